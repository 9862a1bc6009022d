"""The storage protocol between storvsc and the storage VSP: the vstor packet and its
operations, the SCSI commands the model carries, the SRB status values.

The request block is the model's own layout (32 bytes): operation u32, flags u32, status u32,
reserved u32, CDB opcode u32 (READ(10) 0x28 / WRITE(10) 0x2A), sector count u32, LBA u64.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import TYPE_CHECKING

from hvlab.model.core import topology
from hvlab.model.hardware import devices
from hvlab.model.hypervisor.constants import PAGE_SIZE

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


CDB_READ, CDB_WRITE = 0x28, 0x2A


SRB_STATUS_SUCCESS, SRB_STATUS_ERROR = 0x01, 0x04


MAX_SECTORS = PAGE_SIZE // devices.SECTOR


class VStorOperation(IntEnum):
    COMPLETE_IO = 1
    EXECUTE_SRB = 3
    BEGIN_INITIALIZATION = 7
    END_INITIALIZATION = 8
    QUERY_PROTOCOL_VERSION = 9


def request(op: int, cdb: int, sectors: int, lba: int, status: int = 0) -> bytes:
    return struct.pack("<IIIIIIQ", op, 0, status, 0, cdb, sectors, lba)


def path_of(m: Machine, child: str) -> tuple[str, ...]:
    """storvsc → channel → storage VSP → disk driver → disk, as the topology routes it."""
    return topology.route(m.design, "storage", f"{child}.storvsc", "hw.disk")
