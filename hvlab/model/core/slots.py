"""Slots: the checks a learner may write in place of the model's own (hvlab exercises).

A slot is one validation the model makes while a protection is on: the storage VSP's check of
a request's buffer list, the hypervisor's bound on a rep call's output list, the root memory
manager's sharing policy, the virtual switch's check of an RNDIS SET request, the hypervisor's
check of an intercepted instruction. Each is called with plain values — numbers, tuples, a
read-only mapping — and answers with a reason to refuse (a string) or None to let it pass; the
storage slot answers with the system frames to use instead of None.

The model knows nothing of the learner's file: the lab layer sets `Machine.slot_handler`, a
callable `(machine, slot, builtin, fields) -> answer` whose `slots` names the slots it fills
(the model asks it only there) and which fences the learner's code (its time budget, what it
raises) the way plugin code is fenced. Without a handler, or for another slot, the model's own
check (`builtin`) answers.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

STORAGE_BUFFER = "storage-buffer"  # storvsp: a request's GPA list → system frames, or refuse
REP_OUTPUT = "rep-output"  # the hypervisor: a rep call's output list on one page, or refuse
SHARING = "sharing"  # the root's memory manager: may this frame be mapped into this child?
RNDIS_SET = "rndis-set"  # the virtual switch: does a SET request's info buffer lie inside it?
INSTRUCTION = "instruction"  # the hypervisor: does an intercepted IN/OUT decode to a valid size?

SLOTS = {
    STORAGE_BUFFER: (
        "vsp-validates-input",
        "check_buffer(pages, byte_counts, sectors, guest_map) -> list of frames | str",
    ),
    REP_OUTPUT: (
        "sdl-input-validation",
        "check_output(output_gpa, rep_start, rep_count, element_size) -> str | None",
    ),
    SHARING: ("exclusive-guest-memory", "check_share(child, frame, mapped_in) -> str | None"),
    RNDIS_SET: (
        "vsp-validates-input",
        "check_set(message_length, header_size, info_offset, info_length) -> str | None",
    ),
    INSTRUCTION: ("sdl-input-validation", "check_access(size) -> str | None"),
}


class Lazy:
    """A field worth computing only for a learner's check (a partition's whole map)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


def ask(m: Any, slot: str, builtin: Callable[[], Any], **fields) -> Any:
    """The answer of the check at `slot`: the learner's, when the lab put code in this slot,
    else the model's own (`builtin()`, called only then)."""
    handler = getattr(m, "slot_handler", None)
    if handler is None or slot not in handler.slots:
        return builtin()
    values = {k: v.fn() if isinstance(v, Lazy) else v for k, v in fields.items()}
    frozen = {k: MappingProxyType(dict(v)) if isinstance(v, dict) else v for k, v in values.items()}
    return handler(m, slot, builtin, frozen)
