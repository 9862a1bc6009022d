"""The storage protocol between storvsc and the storage VSP, laid out as Linux's
`drivers/scsi/storvsc_drv.c` does: a 64-byte `vstor_packet` (operation, flags, status, then a
union — the SCSI request block `vm_srb`, the channel properties, the protocol version), and
inside an SRB a SCSI CDB, READ(10) or WRITE(10), whose LBA and length are big-endian.

A guest's storvsc opens the channel with four requests, each answered by a COMPLETE_IO
completion with status 0: BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION (Windows 10's 0x602),
QUERY_PROPERTIES, END_INITIALIZATION. After that each disk request is an EXECUTE_SRB in a
DATA_USING_GPA_DIRECT packet whose page ranges name the data buffer.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from hvlab.model.core import topology
from hvlab.model.core.wire import Field, Struct, le, raw
from hvlab.model.hardware import devices
from hvlab.model.hypervisor.constants import PAGE_SIZE

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

STORVSC_C = "drivers/scsi/storvsc_drv.c"
CDB_READ, CDB_WRITE = 0x28, 0x2A  # READ(10), WRITE(10) (include/scsi/scsi_proto.h)
SRB_STATUS_SUCCESS, SRB_STATUS_ERROR, SRB_STATUS_INVALID_REQUEST = 0x01, 0x04, 0x06
SRB_FLAGS_DATA_IN, SRB_FLAGS_DATA_OUT = 0x40, 0x80
READ_TYPE, WRITE_TYPE = 1, 0  # vm_srb.data_in
REQUEST_COMPLETION_FLAG = 1
VMSTOR_PROTO_VERSION_WIN10 = 0x602
SCSI_REQUEST_LEN = 52  # sizeof(struct vmscsi_request) on Windows 8 and later hosts
SENSE_BUFFER_SIZE = 20
MAX_SECTORS = PAGE_SIZE // devices.SECTOR  # the model's largest transfer: one page
MAX_TRANSFER_BYTES = MAX_SECTORS * devices.SECTOR


class VStorOperation(IntEnum):
    COMPLETE_IO = 1
    REMOVE_DEVICE = 2
    EXECUTE_SRB = 3
    RESET_LUN = 4
    RESET_ADAPTER = 5
    RESET_BUS = 6
    BEGIN_INITIALIZATION = 7
    END_INITIALIZATION = 8
    QUERY_PROTOCOL_VERSION = 9
    QUERY_PROPERTIES = 10

    @property
    def label(self) -> str:
        return f"VSTOR_OPERATION_{self.name}"


# the four requests that open a channel, in the order storvsc_channel_init sends them
HANDSHAKE = (
    VStorOperation.BEGIN_INITIALIZATION,
    VStorOperation.QUERY_PROTOCOL_VERSION,
    VStorOperation.QUERY_PROPERTIES,
    VStorOperation.END_INITIALIZATION,
)

VSTOR_PACKET = Struct(
    "vstor_packet",
    64,
    le("operation", 0, 4),
    le("flags", 4, 4),
    le("status", 8, 4),
    le("vm_srb.length", 12, 2),
    le("vm_srb.srb_status", 14, 1),
    le("vm_srb.scsi_status", 15, 1),
    le("vm_srb.port_number", 16, 1),
    le("vm_srb.path_id", 17, 1),
    le("vm_srb.target_id", 18, 1),
    le("vm_srb.lun", 19, 1),
    le("vm_srb.cdb_length", 20, 1),
    le("vm_srb.sense_info_length", 21, 1),
    le("vm_srb.data_in", 22, 1),
    le("vm_srb.data_transfer_length", 24, 4),
    raw("vm_srb.cdb", 28, 16),
    le("vm_srb.srb_flags", 52, 4),
    le("vm_srb.time_out_value", 56, 4),
    le("storage_channel_properties.max_channel_cnt", 16, 2),
    le("storage_channel_properties.flags", 20, 4),
    le("storage_channel_properties.max_transfer_bytes", 24, 4),
    le("version.major_minor", 12, 2),
    le("version.revision", 14, 2),
    source=STORVSC_C,
)
CDB10 = Struct(
    "scsi_cdb_rw10",
    10,
    le("operation_code", 0, 1),
    le("flags", 1, 1),
    Field("logical_block_address", 2, 4, "be"),
    le("group_number", 6, 1),
    Field("transfer_length", 7, 2, "be"),
    le("control", 9, 1),
    source="T10 SBC-3 READ(10)/WRITE(10); opcodes in include/scsi/scsi_proto.h",
)


def vstor(op: int, **fields) -> bytes:
    """A vstor_packet of operation `op` with the named fields set."""
    return VSTOR_PACKET.pack(operation=op, **fields)


def cdb10(opcode: int, lba: int, blocks: int) -> bytes:
    return CDB10.pack(
        operation_code=opcode, logical_block_address=lba, transfer_length=blocks
    ).ljust(16, b"\0")


def srb(cdb: int, lba: int, sectors: int, data_length: int | None = None) -> bytes:
    """An EXECUTE_SRB request as storvsc_queuecommand builds it: target 0, LUN 0, a 10-byte
    CDB, data in for a read and out for a write."""
    reading = cdb == CDB_READ
    return vstor(
        VStorOperation.EXECUTE_SRB,
        flags=REQUEST_COMPLETION_FLAG,
        **{
            "vm_srb.length": SCSI_REQUEST_LEN,
            "vm_srb.cdb_length": 10,
            "vm_srb.sense_info_length": SENSE_BUFFER_SIZE,
            "vm_srb.data_in": READ_TYPE if reading else WRITE_TYPE,
            "vm_srb.data_transfer_length": (
                sectors * devices.SECTOR if data_length is None else data_length
            ),
            "vm_srb.cdb": cdb10(cdb, lba, sectors),
            "vm_srb.srb_flags": SRB_FLAGS_DATA_IN if reading else SRB_FLAGS_DATA_OUT,
            "vm_srb.time_out_value": 60,
        },
    )


def read_srb(payload: bytes) -> dict:
    """The fields the VSP acts on: the packet's, and the CDB's opcode, LBA and length."""
    fields = VSTOR_PACKET.unpack(payload.ljust(VSTOR_PACKET.size, b"\0"))
    cdb = CDB10.unpack(fields["vm_srb.cdb"])
    return {
        **fields,
        "cdb": cdb["operation_code"],
        "lba": cdb["logical_block_address"],
        "sectors": cdb["transfer_length"],
    }


def completion(status: int = 0, srb_status: int | None = None, **fields) -> bytes:
    """The VSP's answer: COMPLETE_IO with an NTSTATUS, and for an SRB its SRB status."""
    extra = dict(fields)
    if srb_status is not None:
        extra["vm_srb.srb_status"] = srb_status
        extra["vm_srb.length"] = SCSI_REQUEST_LEN
    return vstor(VStorOperation.COMPLETE_IO, status=status, **extra)


def path_of(m: Machine, child: str) -> tuple[str, ...]:
    """storvsc → channel → storage VSP → disk driver → disk, as the topology routes it."""
    return topology.route(m.design, "storage", f"{child}.storvsc", "hw.disk")
