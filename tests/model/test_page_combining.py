"""Page combining, the counterfactual of exclusive-guest-memory: out of frames, the root's
memory manager backs identical pages with one frame, read-only, and copies on the first write.
What crosses between guests is timing, not bytes: a guest learns which page another holds."""

from __future__ import annotations

from collections import Counter

import pytest

from hvlab.lab import Lab
from hvlab.model.core.events import EventKind
from hvlab.model.core.layout import DEFAULT_LAYOUT
from hvlab.model.core.protections import Design
from hvlab.model.guest.kernel import LIBRARY_BUILDS
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.scenarios.moves import AT_END

OFF = Design.build("hyperv", ["exclusive-guest-memory"])
A, B = 2, 3
GUESSES = [(0x18000 + 0x1000 * n, 0x10400 + n) for n in range(len(LIBRARY_BUILDS))]
MOVES = (
    *(f"A: write {gpa:#x} {value:#x}" for gpa, value in GUESSES),
    "A: read 0x20000",  # above A's RAM: the root must find a frame
    *(f"A: write {gpa + 8:#x} 1" for gpa, _ in GUESSES),
)


def guessing(design: Design | None = None, seed: int = 0, salts=None) -> Lab:
    return Lab("boot", design, seed=seed, salts=salts, moves=tuple((AT_END, m) for m in MOVES))


def replies(lab: Lab) -> list[str]:
    return [e.detail_dict()["reply"] for e in lab.events if e.name == "reply"]


def b_build(lab: Lab) -> int:
    """Which build B loaded, from the lab's canary event (1-based)."""
    ev = next(e for e in lab.events if e.kind is EventKind.CANARY and e.name == "page")
    return int(ev.detail_dict()["choice"].split()[0])


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5])
def test_only_the_write_to_the_right_guess_waits_and_the_oracle_calls_it_learned(seed):
    lab = guessing(OFF, seed)
    right = b_build(lab) - 1
    second = replies(lab)[len(GUESSES) + 1 :]
    slow = [n for n, text in enumerate(second) if "waited" in text]
    assert slow == [right], second
    verdict = lab.outcome.move(len(GUESSES) + 2 + right)
    assert (verdict.result, verdict.canary, verdict.principal) == ("breached", "B-library", "A")
    assert lab.outcome.result == "breached"


def test_with_the_policy_on_nothing_is_combined_across_guests_and_no_write_waits():
    lab = guessing()
    names = [e.name for e in lab.events if e.kind is EventKind.POLICY]
    assert "combine-pages" not in names and "refuse-overcommit" in names
    assert lab.outcome.move(len(GUESSES) + 1).protection == "exclusive-guest-memory"
    assert not any("waited" in r for r in replies(lab)[len(GUESSES) + 1 :])
    assert lab.outcome.result == "ok"


def test_a_never_reads_bs_bytes_and_bs_page_survives_the_copy():
    lab = guessing(OFF)
    st = lab.state
    right = b_build(lab) - 1
    assert not [e for e in lab.events if e.name == "secret-read"]
    b_entry = memory.translate(st, B, 41)
    a_entry = memory.translate(st, A, GUESSES[right][0] // 0x1000)
    assert a_entry[0] != b_entry[0], "after the copy each guest has its own frame"
    assert "w" in b_entry[1] and "w" in a_entry[1], "the last page of a frame gets its write back"
    assert memory.read_phys(st, b_entry[0] * 0x1000, 8) == LIBRARY_BUILDS[right]
    # the kernel code pages stay combined: one frame, read-only, in both
    text_a, text_b = memory.translate(st, A, 21), memory.translate(st, B, 21)
    assert text_a == text_b and text_a[1] == "r-x"


def test_frames_are_conserved_and_combined_frames_back_no_pinned_page():
    lab = guessing(OFF)
    st = lab.state
    owners = Counter(st.get(("frame", pfn))[0] for pfn in range(DEFAULT_LAYOUT.frames))
    assert sum(owners.values()) == DEFAULT_LAYOUT.frames
    for pid in (A, B):
        for gpn in range(20):  # the pinned kernel pages keep frames of their own
            entry = memory.translate(st, pid, gpn)
            if entry is not None:
                assert partitions.children(st) and len(memory.guests_mapping(st, entry[0])) == 1


def test_which_page_b_holds_reaches_a_only_through_the_policy_being_off():
    """Noninterference for the library page: B's build changes nothing A sees with the policy
    on, and with it off A's replies differ — the leak is real, and it is this one."""
    on_plain, on_salted = guessing(), guessing(salts={"B-library": 1})
    assert b_build(on_plain) != b_build(on_salted)
    assert replies(on_plain) == replies(on_salted)
    assert replies(guessing(OFF)) != replies(guessing(OFF, salts={"B-library": 1}))


def test_the_breach_and_the_reply_give_the_same_wait():
    """The oracle's `took` and the move's reply measure one thing: intercept to resume."""
    lab = guessing(OFF)
    breach = next(e for e in lab.events if e.name == "page-learned")
    took = breach.detail_dict()["took"]
    assert took.endswith(" ticks")
    assert any(f"(the VP waited {took} for the root)" in r for r in replies(lab)), replies(lab)
