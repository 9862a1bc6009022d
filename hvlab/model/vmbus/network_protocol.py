"""The network protocol between netvsc and the virtual switch, laid out as Linux's
`drivers/net/hyperv/hyperv_net.h` and `include/linux/rndis.h` do.

Two layers ride the network channel. NVSP messages (a u32 type, then the message; always sent
as a whole 40-byte `nvsp_message`) set the channel up — INIT / INIT_COMPLETE, SEND_NDIS_VER,
SEND_RECV_BUF (a GPADL of the guest's receive buffer, id 0xCAFE), SEND_SEND_BUF (a GPADL of its
send buffer) — and then carry RNDIS messages: SEND_RNDIS_PKT names the send-buffer section the
guest copied an RNDIS message into (channel type 0 for data, 1 for control). RNDIS itself
initializes the device (INITIALIZE_MSG, SET_MSG of the packet filter) and carries each Ethernet
frame in a PACKET_MSG. Towards the guest the switch writes RNDIS messages into the receive
buffer and names them in a VM_PKT_DATA_USING_XFER_PAGES packet.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core import topology
from hvlab.model.core.wire import Field, Struct, le, raw
from hvlab.model.hypervisor.constants import PAGE_SIZE

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

HYPERV_NET_H = "drivers/net/hyperv/hyperv_net.h"
RNDIS_H = "include/linux/rndis.h"

# NVSP message types and status values (hyperv_net.h)
INIT, INIT_COMPLETE = 1, 2
SEND_NDIS_VER, SEND_RECV_BUF, SEND_RECV_BUF_COMPLETE = 100, 101, 102
SEND_SEND_BUF, SEND_SEND_BUF_COMPLETE = 104, 105
SEND_RNDIS_PKT, SEND_RNDIS_PKT_COMPLETE = 107, 108
NVSP_STAT_SUCCESS, NVSP_STAT_FAIL, NVSP_STAT_INVALID_RNDIS_PKT = 1, 2, 5
NVSP_PROTOCOL_VERSION_61 = 0x60001
NDIS_VERSION_6_30 = (6, 30)
NVSP_MESSAGE_SIZE = 40
RECEIVE_BUFFER_ID, SEND_BUFFER_ID = 0xCAFE, 0
INVALID_INDEX = 0xFFFFFFFF  # send_buf_section_index when the message is not in the send buffer
RECV_SECTION_SIZE = 0x6C0  # NETVSC_RECV_SECTION_SIZE
SEND_SECTION_SIZE = PAGE_SIZE  # the model's (Linux: 0x1800); its send buffer is two pages
CHANNEL_DATA, CHANNEL_CONTROL = 0, 1

# RNDIS message types, OIDs and status (rndis.h)
PACKET_MSG, INITIALIZE_MSG, SET_MSG = 1, 2, 5
INITIALIZE_CMPLT, SET_CMPLT = 0x80000002, 0x80000005
OID_GEN_CURRENT_PACKET_FILTER = 0x0001010E
PACKET_FILTER = 0x1 | 0x2 | 0x8  # directed, multicast, broadcast
RNDIS_STATUS_SUCCESS, RNDIS_STATUS_INVALID_DATA = 0, 0xC0010015
RNDIS_STATUS_NOT_SUPPORTED = 0xC00000BB
MAX_XFER_SIZE = 0x4000

ETHERTYPE_IPV4 = 0x0800
ETHERNET_HEADER = 14
MAX_FRAME = 200  # the longest frame the model's guests send
MAC_PREFIX = bytes.fromhex("00155d")  # Microsoft's OUI, which Hyper-V gives synthetic NICs

_HDR = le("hdr.msg_type", 0, 4)
NVSP_INIT = Struct(
    "nvsp_message_init",
    12,
    _HDR,
    le("min_protocol_ver", 4, 4),
    le("max_protocol_ver", 8, 4),
    source=HYPERV_NET_H,
)
NVSP_INIT_COMPLETE = Struct(
    "nvsp_message_init_complete",
    16,
    _HDR,
    le("negotiated_protocol_ver", 4, 4),
    le("max_mdl_chain_len", 8, 4),
    le("status", 12, 4),
    source=HYPERV_NET_H,
)
NVSP_SEND_NDIS_VERSION = Struct(
    "nvsp_1_message_send_ndis_version",
    12,
    _HDR,
    le("ndis_major_ver", 4, 4),
    le("ndis_minor_ver", 8, 4),
    source=HYPERV_NET_H,
)
NVSP_SEND_RECEIVE_BUFFER = Struct(
    "nvsp_1_message_send_receive_buffer",
    10,
    _HDR,
    le("gpadl_handle", 4, 4),
    le("id", 8, 2),
    source=HYPERV_NET_H,
)
NVSP_SEND_RECEIVE_BUFFER_COMPLETE = Struct(
    "nvsp_1_message_send_receive_buffer_complete",
    28,
    _HDR,
    le("status", 4, 4),
    le("num_sections", 8, 4),
    le("sections[0].offset", 12, 4),
    le("sections[0].sub_alloc_size", 16, 4),
    le("sections[0].num_sub_allocs", 20, 4),
    le("sections[0].end_offset", 24, 4),
    source=HYPERV_NET_H,
)
NVSP_SEND_SEND_BUFFER = Struct(
    "nvsp_1_message_send_send_buffer",
    10,
    _HDR,
    le("gpadl_handle", 4, 4),
    le("id", 8, 2),
    source=HYPERV_NET_H,
)
NVSP_SEND_SEND_BUFFER_COMPLETE = Struct(
    "nvsp_1_message_send_send_buffer_complete",
    12,
    _HDR,
    le("status", 4, 4),
    le("section_size", 8, 4),
    source=HYPERV_NET_H,
)
NVSP_SEND_RNDIS_PACKET = Struct(
    "nvsp_1_message_send_rndis_packet",
    16,
    _HDR,
    le("channel_type", 4, 4),
    le("send_buf_section_index", 8, 4),
    le("send_buf_section_size", 12, 4),
    source=HYPERV_NET_H,
)
NVSP_SEND_RNDIS_PACKET_COMPLETE = Struct(
    "nvsp_1_message_send_rndis_packet_complete",
    8,
    _HDR,
    le("status", 4, 4),
    source=HYPERV_NET_H,
)
NVSP_LAYOUTS = {
    INIT: NVSP_INIT,
    INIT_COMPLETE: NVSP_INIT_COMPLETE,
    SEND_NDIS_VER: NVSP_SEND_NDIS_VERSION,
    SEND_RECV_BUF: NVSP_SEND_RECEIVE_BUFFER,
    SEND_RECV_BUF_COMPLETE: NVSP_SEND_RECEIVE_BUFFER_COMPLETE,
    SEND_SEND_BUF: NVSP_SEND_SEND_BUFFER,
    SEND_SEND_BUF_COMPLETE: NVSP_SEND_SEND_BUFFER_COMPLETE,
    SEND_RNDIS_PKT: NVSP_SEND_RNDIS_PACKET,
    SEND_RNDIS_PKT_COMPLETE: NVSP_SEND_RNDIS_PACKET_COMPLETE,
}
NVSP_NAMES = {
    INIT: "NVSP_MSG_TYPE_INIT",
    INIT_COMPLETE: "NVSP_MSG_TYPE_INIT_COMPLETE",
    SEND_NDIS_VER: "NVSP_MSG1_TYPE_SEND_NDIS_VER",
    SEND_RECV_BUF: "NVSP_MSG1_TYPE_SEND_RECV_BUF",
    SEND_RECV_BUF_COMPLETE: "NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE",
    SEND_SEND_BUF: "NVSP_MSG1_TYPE_SEND_SEND_BUF",
    SEND_SEND_BUF_COMPLETE: "NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE",
    SEND_RNDIS_PKT: "NVSP_MSG1_TYPE_SEND_RNDIS_PKT",
    SEND_RNDIS_PKT_COMPLETE: "NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE",
}

_RNDIS = (le("ndis_msg_type", 0, 4), le("msg_len", 4, 4))
RNDIS_PACKET = Struct(
    "rndis_packet",
    44,
    *_RNDIS,
    le("data_offset", 8, 4),  # from the start of the rndis_packet (byte 8)
    le("data_len", 12, 4),
    le("oob_data_offset", 16, 4),
    le("oob_data_len", 20, 4),
    le("num_oob_data_elements", 24, 4),
    le("per_pkt_info_offset", 28, 4),
    le("per_pkt_info_len", 32, 4),
    source=RNDIS_H,
)
RNDIS_INITIALIZE_REQUEST = Struct(
    "rndis_initialize_request",
    24,
    *_RNDIS,
    le("req_id", 8, 4),
    le("major_ver", 12, 4),
    le("minor_ver", 16, 4),
    le("max_xfer_size", 20, 4),
    source=RNDIS_H,
)
RNDIS_INITIALIZE_COMPLETE = Struct(
    "rndis_initialize_complete",
    52,
    *_RNDIS,
    le("req_id", 8, 4),
    le("status", 12, 4),
    le("major_ver", 16, 4),
    le("minor_ver", 20, 4),
    le("dev_flags", 24, 4),
    le("medium", 28, 4),
    le("max_pkt_per_msg", 32, 4),
    le("max_xfer_size", 36, 4),
    source=RNDIS_H,
)
RNDIS_SET_REQUEST = Struct(
    "rndis_set_request",
    28,  # and the info buffer, at 8 + info_buf_offset
    *_RNDIS,
    le("req_id", 8, 4),
    le("oid", 12, 4),
    le("info_buflen", 16, 4),
    le("info_buf_offset", 20, 4),  # from the start of the request body (byte 8)
    le("dev_vc_handle", 24, 4),
    source=RNDIS_H,
)
RNDIS_SET_COMPLETE = Struct(
    "rndis_set_complete", 16, *_RNDIS, le("req_id", 8, 4), le("status", 12, 4), source=RNDIS_H
)
RNDIS_LAYOUTS = {
    PACKET_MSG: RNDIS_PACKET,
    INITIALIZE_MSG: RNDIS_INITIALIZE_REQUEST,
    INITIALIZE_CMPLT: RNDIS_INITIALIZE_COMPLETE,
    SET_MSG: RNDIS_SET_REQUEST,
    SET_CMPLT: RNDIS_SET_COMPLETE,
}
RNDIS_NAMES = {
    PACKET_MSG: "REMOTE_NDIS_PACKET_MSG",
    INITIALIZE_MSG: "REMOTE_NDIS_INITIALIZE_MSG",
    INITIALIZE_CMPLT: "REMOTE_NDIS_INITIALIZE_CMPLT",
    SET_MSG: "REMOTE_NDIS_SET_MSG",
    SET_CMPLT: "REMOTE_NDIS_SET_CMPLT",
}
ETHERNET = Struct(
    "ethhdr",
    14,
    raw("h_dest", 0, 6),
    raw("h_source", 6, 6),
    Field("h_proto", 12, 2, "be"),
    source="include/uapi/linux/if_ether.h",
)


def nvsp(kind: int, **fields) -> bytes:
    """An NVSP message of type `kind`, sent as a whole 40-byte nvsp_message."""
    return (
        NVSP_LAYOUTS[kind].pack(**{"hdr.msg_type": kind}, **fields).ljust(NVSP_MESSAGE_SIZE, b"\0")
    )


def nvsp_type(payload: bytes) -> int:
    return int.from_bytes(payload[:4].ljust(4, b"\0"), "little")


def read_nvsp(payload: bytes) -> dict:
    layout = NVSP_LAYOUTS.get(nvsp_type(payload))
    return layout.unpack(payload.ljust(layout.size, b"\0")) if layout else {}


def nvsp_label(payload: bytes) -> str:
    kind = nvsp_type(payload)
    return NVSP_NAMES.get(kind, f"NVSP type {kind}")


def rndis(kind: int, tail: bytes = b"", **fields) -> bytes:
    """An RNDIS message of type `kind`; msg_len counts the whole message."""
    layout = RNDIS_LAYOUTS[kind]
    return layout.pack(tail, ndis_msg_type=kind, msg_len=layout.size + len(tail), **fields)


def rndis_type(message: bytes) -> int:
    return int.from_bytes(message[:4].ljust(4, b"\0"), "little")


def rndis_label(message: bytes) -> str:
    kind = rndis_type(message)
    return RNDIS_NAMES.get(kind, f"RNDIS type {kind:#x}")


def read_rndis(message: bytes) -> dict:
    layout = RNDIS_LAYOUTS.get(rndis_type(message))
    return layout.unpack(message.ljust(layout.size, b"\0")) if layout else {}


def packet_msg(frame_bytes: bytes) -> bytes:
    """REMOTE_NDIS_PACKET_MSG carrying one Ethernet frame right after its 36-byte body (no
    per-packet info)."""
    return rndis(
        PACKET_MSG,
        frame_bytes,
        data_offset=RNDIS_PACKET.size - 8,
        data_len=len(frame_bytes),
    )


def packet_data(message: bytes) -> bytes:
    """The frame of a PACKET_MSG, where its data_offset and data_len say."""
    fields = read_rndis(message)
    start = 8 + fields.get("data_offset", 0)
    return message[start : start + fields.get("data_len", 0)]


def mac(pid: int) -> bytes:
    """A partition's synthetic NIC address: 00:15:5d, then its id (the model's assignment)."""
    return MAC_PREFIX + pid.to_bytes(3, "big")


def pid_of_mac(address: bytes) -> int | None:
    return int.from_bytes(address[3:], "big") if address[:3] == MAC_PREFIX else None


def frame(dst: int, src: int, payload: bytes) -> bytes:
    """An Ethernet II frame from partition `src` to `dst` carrying `payload` as IPv4."""
    return ETHERNET.pack(h_dest=mac(dst), h_source=mac(src), h_proto=ETHERTYPE_IPV4) + payload


def xfer_pages(offset: int, count: int) -> bytes:
    """The header a VM_PKT_DATA_USING_XFER_PAGES packet carries after its descriptor: the
    receive buffer's id and one range (vmtransfer_page_packet_header)."""
    return struct.pack("<HBBI", RECEIVE_BUFFER_ID, 0, 0, 1) + struct.pack("<II", count, offset)


def read_xfer_pages(prefix: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(transfer page set id, [(byte_count, byte_offset), ...]) of an XFER_PAGES prefix."""
    prefix = prefix.ljust(8, b"\0")
    set_id, _owns, _rsv, count = struct.unpack_from("<HBBI", prefix)
    ranges = []
    for i in range(min(count, (len(prefix) - 8) // 8)):
        ranges.append(struct.unpack_from("<II", prefix, 8 + 8 * i))
    return set_id, ranges


def route(m: Machine, src: str, dst: str) -> tuple[str, ...]:
    """netvsc → channel → switch → channel → netvsc, as the topology routes it."""
    return topology.route(m.design, "network", f"{src}.netvsc", f"{dst}.netvsc")


def set_request(
    oid: int, value: bytes, req_id: int = 9, info_buf_offset: int | None = None
) -> bytes:
    """An RNDIS SET_MSG of `oid` to `value`; `info_buf_offset` (from the request id, as rndis.h
    counts it) defaults to right after the header, where a well-formed request puts it."""
    offset = RNDIS_SET_REQUEST.size - 8 if info_buf_offset is None else info_buf_offset
    return rndis(
        SET_MSG, value, req_id=req_id, oid=oid, info_buflen=len(value), info_buf_offset=offset
    )
