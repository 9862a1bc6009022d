"""Every wire layout the model encodes is held to the real one: each struct in
`hvlab.model.core.wire.REGISTRY` (bar the model-only ones) against the table of real sizes and
offsets in tests/data/hyperv_wire_formats.toml, and the model's constants against the table's.

An NVSP or RNDIS body struct in the table counts offsets from the start of the whole message
(`body_base` bytes of header first): the model's structs include that header, whose fields
are held to nvsp_message / rndis_message."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import pytest

import hvlab.model
from hvlab.model.core.wire import REGISTRY, Struct, le

TABLE = tomllib.loads((Path(__file__).parent / "data" / "hyperv_wire_formats.toml").read_text())
STRUCTS = TABLE["structs"]
for module in pkgutil.walk_packages(hvlab.model.__path__, "hvlab.model."):
    importlib.import_module(module.name)
MODELLED = sorted(n for n, s in REGISTRY.items() if not s.source.startswith("model-only"))
HEADERS = {4: "nvsp_message", 8: "rndis_message"}


def real_fields(name: str) -> dict[str, dict]:
    entry = STRUCTS[name]
    fields = {f["name"]: f for f in entry["fields"]}
    base = entry.get("body_base")
    if base:
        for f in STRUCTS[HEADERS[base]]["fields"]:
            if f.get("kind") not in ("union", "struct"):
                fields.setdefault(f["name"], f)
    return fields


def test_the_model_has_layouts_and_the_table_covers_them():
    assert len(MODELLED) >= 60
    missing = [n for n in MODELLED if n not in STRUCTS]
    assert not missing, f"structs with no entry in the table: {missing}"


@pytest.mark.parametrize("name", MODELLED)
def test_every_field_sits_where_the_real_struct_has_it(name):
    ours: Struct = REGISTRY[name]
    entry = STRUCTS[name]
    real = real_fields(name)
    size = entry["size"] + entry.get("body_base", 0)
    if entry.get("variable"):
        assert ours.size >= size, (name, ours.size, size)
    else:
        assert ours.size == size, (name, ours.size, size)
    for f in ours.fields:
        assert f.name in real, f"{name}.{f.name} is not a field of {entry['c_name']}"
        want = real[f.name]
        assert (f.offset, f.size) == (want["offset"], want["size"]), (name, f.name)


def test_the_check_fails_on_a_wrong_offset():
    """Not vacuous: a layout one byte off is caught."""
    wrong = Struct.__new__(Struct)
    wrong.name, wrong.size, wrong.fields = "vstor_packet", 64, (le("status", 9, 4),)
    real = real_fields("vstor_packet")
    assert (wrong.fields[0].offset, wrong.fields[0].size) != (
        real["status"]["offset"],
        real["status"]["size"],
    )


def constant(group: str, name: str) -> int:
    return TABLE["constants"][group][name]["value"]


def test_the_models_constants_are_the_real_ones():
    from hvlab.model.hypervisor import constants as c
    from hvlab.model.hypervisor import intercept_messages as im
    from hvlab.model.vmbus import channels as vmbus
    from hvlab.model.vmbus import network_protocol as net
    from hvlab.model.vmbus import ring
    from hvlab.model.vmbus import storage_protocol as vstor

    pairs = [
        (c.MSR_SCONTROL, "synic_msr", "HV_X64_MSR_SCONTROL"),
        (c.MSR_SIEFP, "synic_msr", "HV_X64_MSR_SIEFP"),
        (c.MSR_SIMP, "synic_msr", "HV_X64_MSR_SIMP"),
        (c.MSR_EOM, "synic_msr", "HV_X64_MSR_EOM"),
        (c.MSR_SINT0, "synic_msr", "HV_X64_MSR_SINT0"),
        (c.SINT_MASKED, "synic_msr", "HV_SYNIC_SINT_MASKED"),
        (c.HV_EVENT_FLAGS_COUNT, "synic_msr", "HV_EVENT_FLAGS_COUNT"),
        (c.REGISTER_EXPLICIT_SUSPEND, "registers", "HV_REGISTER_EXPLICIT_SUSPEND"),
        (c.REGISTER_INTERCEPT_SUSPEND, "registers", "HV_REGISTER_INTERCEPT_SUSPEND"),
        (im.REGISTER_RAX, "registers", "HV_X64_REGISTER_RAX"),
        (im.REGISTER_RIP, "registers", "HV_X64_REGISTER_RIP"),
        (ring.PacketType.DATA_INBAND, "vmbus_packet", "VM_PKT_DATA_INBAND"),
        (ring.PacketType.DATA_USING_XFER_PAGES, "vmbus_packet", "VM_PKT_DATA_USING_XFER_PAGES"),
        (ring.PacketType.DATA_USING_GPA_DIRECT, "vmbus_packet", "VM_PKT_DATA_USING_GPA_DIRECT"),
        (ring.PacketType.COMP, "vmbus_packet", "VM_PKT_COMP"),
        (ring.FLAG_COMPLETION_REQUESTED, "vmbus_packet",
         "VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED"),
        (net.INIT, "nvsp", "NVSP_MSG_TYPE_INIT"),
        (net.INIT_COMPLETE, "nvsp", "NVSP_MSG_TYPE_INIT_COMPLETE"),
        (net.SEND_NDIS_VER, "nvsp", "NVSP_MSG1_TYPE_SEND_NDIS_VER"),
        (net.SEND_RECV_BUF, "nvsp", "NVSP_MSG1_TYPE_SEND_RECV_BUF"),
        (net.SEND_RECV_BUF_COMPLETE, "nvsp", "NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE"),
        (net.SEND_SEND_BUF, "nvsp", "NVSP_MSG1_TYPE_SEND_SEND_BUF"),
        (net.SEND_SEND_BUF_COMPLETE, "nvsp", "NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE"),
        (net.SEND_RNDIS_PKT, "nvsp", "NVSP_MSG1_TYPE_SEND_RNDIS_PKT"),
        (net.SEND_RNDIS_PKT_COMPLETE, "nvsp", "NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE"),
        (net.NVSP_STAT_SUCCESS, "nvsp", "NVSP_STAT_SUCCESS"),
        (net.NVSP_PROTOCOL_VERSION_61, "nvsp", "NVSP_PROTOCOL_VERSION_61"),
        (net.RECEIVE_BUFFER_ID, "nvsp", "NETVSC_RECEIVE_BUFFER_ID"),
        (net.SEND_BUFFER_ID, "nvsp", "NETVSC_SEND_BUFFER_ID"),
        (net.RECV_SECTION_SIZE, "nvsp", "NETVSC_RECV_SECTION_SIZE"),
        (net.NDIS_VERSION_6_30[0] << 16 | net.NDIS_VERSION_6_30[1], "nvsp", "NDIS_VERSION_6_30"),
        (net.PACKET_MSG, "rndis", "REMOTE_NDIS_PACKET_MSG"),
        (net.INITIALIZE_MSG, "rndis", "REMOTE_NDIS_INITIALIZE_MSG"),
        (net.SET_MSG, "rndis", "REMOTE_NDIS_SET_MSG"),
        (net.INITIALIZE_CMPLT, "rndis", "REMOTE_NDIS_INITIALIZE_CMPLT"),
        (net.SET_CMPLT, "rndis", "REMOTE_NDIS_SET_CMPLT"),
        (net.OID_GEN_CURRENT_PACKET_FILTER, "rndis", "RNDIS_OID_GEN_CURRENT_PACKET_FILTER"),
        (net.RNDIS_STATUS_INVALID_DATA, "rndis", "RNDIS_STATUS_INVALID_DATA"),
        (net.RNDIS_STATUS_NOT_SUPPORTED, "rndis", "RNDIS_STATUS_NOT_SUPPORTED"),
        (vstor.CDB_READ, "vstor", "READ_10"),
        (vstor.CDB_WRITE, "vstor", "WRITE_10"),
        (vstor.SRB_STATUS_SUCCESS, "vstor", "SRB_STATUS_SUCCESS"),
        (vstor.SRB_STATUS_ERROR, "vstor", "SRB_STATUS_ERROR"),
        (vstor.SRB_STATUS_INVALID_REQUEST, "vstor", "SRB_STATUS_INVALID_REQUEST"),
        (vstor.SRB_FLAGS_DATA_IN, "vstor", "SRB_FLAGS_DATA_IN"),
        (vstor.SRB_FLAGS_DATA_OUT, "vstor", "SRB_FLAGS_DATA_OUT"),
        (vstor.READ_TYPE, "vstor", "READ_TYPE"),
        (vstor.WRITE_TYPE, "vstor", "WRITE_TYPE"),
        (vstor.VMSTOR_PROTO_VERSION_WIN10, "vstor", "VMSTOR_PROTO_VERSION_WIN10"),
        (vstor.SCSI_REQUEST_LEN, "vstor", "SCSI_REQUEST_LEN_V2"),
        (vstor.REQUEST_COMPLETION_FLAG, "vstor", "REQUEST_COMPLETION_FLAG"),
        (vmbus.SINT, "vmbus_channel_message", "VMBUS_MESSAGE_SINT"),
        (vmbus.VERSION_WIN10_V5, "vmbus_channel_message", "VERSION_WIN10_V5"),
        (vmbus.CONTACT_CONNECTION, "vmbus_channel_message", "VMBUS_MESSAGE_CONNECTION_ID_4"),
        (vmbus.VMBUS_CONNECTION, "vmbus_channel_message", "VMBUS_MESSAGE_CONNECTION_ID"),
        (vmbus.EVENT_CONNECTION, "vmbus_channel_message", "VMBUS_EVENT_CONNECTION_ID"),
    ]  # fmt: skip
    for op in vstor.VStorOperation:
        pairs.append((op, "vstor", f"VSTOR_OPERATION_{op.name}"))
    for kind in vmbus.ChannelMessage:
        pairs.append((kind, "vmbus_channel_message", f"CHANNELMSG_{kind.name}"))
    wrong = [
        (name, int(ours), constant(g, name)) for ours, g, name in pairs if ours != constant(g, name)
    ]
    assert not wrong, wrong


def test_call_codes_and_status_codes_are_the_real_ones():
    from hvlab.model.hypervisor.constants import HvCallCode, HvStatus

    calls = TABLE["constants"]["hypercall"]
    matched, model_only = 0, {HvCallCode.WRITE_HYPERVISOR_MEMORY}
    for code in HvCallCode:
        for name in (
            f"HVCALL_{code.name}",
            f"HVCALL_{code.name.replace('VIRTUAL_PROCESSOR', 'VP')}",
        ):
            if name in calls:
                assert calls[name]["value"] == code, (code.name, calls[name]["value"])
                matched += 1
                break
    statuses = [k for k in calls if k.startswith("HV_STATUS_")]
    for status in HvStatus:
        name = f"HV_STATUS_{status.name}"
        if name in calls:
            assert calls[name]["value"] == status, name
            matched += 1
    assert statuses and matched == len(HvCallCode) - len(model_only) + len(HvStatus)
