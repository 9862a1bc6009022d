"""The network protocol between netvsc and the virtual switch: NVSP messages carrying frames.

A frame (the model's layout): destination partition id u8, source u8, ethertype u16, length
u16, padding u16, then the payload. It travels in an NVSP SEND_RNDIS_PKT (107) message —
type u32, channel type u32, frame length u32, padding u32, frame — and is acknowledged with
SEND_RNDIS_PKT_COMPLETE (108).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core import topology

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


SEND_RNDIS_PKT = 107


SEND_RNDIS_PKT_COMPLETE = 108


ETHERTYPE_IPV4 = 0x0800


MAX_FRAME = 200


def route(m: Machine, src: str, dst: str) -> tuple[str, ...]:
    """netvsc → channel → switch → channel → netvsc, as the topology routes it."""
    return topology.route(m.design, "network", f"{src}.netvsc", f"{dst}.netvsc")


def frame(dst: int, src: int, payload: bytes) -> bytes:
    return struct.pack("<BBHHH", dst, src, ETHERTYPE_IPV4, len(payload), 0) + payload


def nvsp(kind: int, body: bytes = b"", status: int = 0) -> bytes:
    return struct.pack("<IIII", kind, 0, len(body) if kind == SEND_RNDIS_PKT else status, 0) + body
