"""The Detail pane decodes a message or block an event carries by its real layout."""

from __future__ import annotations

from rich.console import Console

from hvlab.lab import Lab
from hvlab.tui.detail import describe


def text_of(ev, lab) -> str:
    console = Console(width=120, record=True)
    console.print(describe(ev, len(lab.events)))
    return console.export_text()


def test_a_hypercall_block_is_listed_field_by_field():
    lab = Lab("boot")
    ev = next(e for e in lab.events if e.name == "HvCallCreatePort" and e.phase == "dispatch")
    shown = text_of(ev, lab)
    assert "hv_input_create_port (56 bytes)" in shown and "include/hyperv/hvhdk.h" in shown
    assert "[ 24+4] port_info.port_type" in shown
    assert "[ 40+2] port_info.event_port_info.base_flag_number" in shown
    assert "bytes " not in shown  # the raw hex is replaced by its fields


def test_channel_and_protocol_messages_are_decoded():
    lab = Lab("ping")
    offer = next(e for e in lab.events if e.name == "offer")
    shown = text_of(offer, lab)
    assert "vmbus_channel_offer_channel (196 bytes)" in shown
    assert "[184+4] child_relid" in shown and "[192+4] connection_id" in shown
    srb = next(e for e in Lab("disk-read").events if e.name == "srb")
    shown = text_of(srb, lab)
    assert "vstor_packet (64 bytes)" in shown and "[ 28+16] vm_srb.cdb" in shown
    frame = next(e for e in lab.events if e.name == "NVSP_MSG1_TYPE_SEND_RNDIS_PKT")
    assert "[  8+4] send_buf_section_index" in text_of(frame, lab)
