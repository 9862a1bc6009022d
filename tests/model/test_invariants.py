"""A Hypothesis state machine over the root's and the guests' operations, checking isolation
invariants after every step; then knock-outs proving each invariant can fail.

Root-side operations go through the root's memory manager (its policy is part of the design);
children issue arbitrary hypercalls and memory accesses, as a hostile guest could.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hvlab.model.core.events import EventKind
from hvlab.model.core.layout import DEFAULT_LAYOUT
from hvlab.model.core.protections import Protection
from hvlab.model.guest.kernel import LIBRARY_BUILDS
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.hypervisor.calls import CALLS
from hvlab.model.hypervisor.constants import HV_PARTITION_ID_SELF, PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.hypercalls import HypercallInput, hypercall
from hvlab.model.hypervisor.invoke import call, pack
from tests.helpers import booted, place

LAY = DEFAULT_LAYOUT
ROOT, A, B = 1, 2, 3
FRAMES = st.sampled_from(
    [0x00, 0x10, 0x21, 0x80, 0x88, 0xA7, 0xA8, 0xB0, 0xD8, 0xDF, 0xE0, 0x300, 0x3FF]
)
GPNS = st.sampled_from([0, 2, 3, 20, 24, 31, 32, 40, 41, 47, 50, 63, 64, 0x10, 0x300])
WORDS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 7, 0x10, 0x50, HV_PARTITION_ID_SELF, 0xCCCC_CCCC_CCCC_CCCC]),
    GPNS,
    FRAMES,
    st.integers(0, 2**64 - 1),
)
# Output pages: the usual one, the end of A's and B's RAM, and the read-only hypercall page.
OUT_GPAS = st.sampled_from(
    [3 * PAGE_SIZE, 32 * PAGE_SIZE - 16, 32 * PAGE_SIZE - 32, 48 * PAGE_SIZE - 16, 1 * PAGE_SIZE]
)
PIDS = st.sampled_from([HV_PARTITION_ID_SELF, A, HV_PARTITION_ID_SELF, ROOT, B, 0x99])
SMALL = st.one_of(st.just(0), st.just(0), st.sampled_from([1, 2, 3, 20, 40, 50, 63]), GPNS, FRAMES)
# Rep calls carry the most arithmetic, so a fuzzer leans on them (boundary-value habit).
CODES = st.one_of(
    st.sampled_from(sorted(c for c, s in CALLS.items() if s.rep)), st.sampled_from(sorted(CALLS))
)


class Isolation(RuleBasedStateMachine):
    off: frozenset[str] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.m = booted(*self.off)
        self.m.plant_lab_canaries()
        self.marks = len(self.m.events)

    def on(self, protection: Protection) -> bool:
        return protection.value not in self.off

    # -- rules --------------------------------------------------------------------------------
    @rule(
        child=st.sampled_from([A, B]),
        gpn=GPNS,
        offset=st.sampled_from([0, 0x100, 4088]),
        write=st.booleans(),
    )
    def guest_access(self, child, gpn, offset, write):
        gpa = gpn * PAGE_SIZE + offset
        if write:
            self.m.write(child, gpa, b"\x5a" * 8)
        else:
            self.m.read(child, gpa, 16)

    @rule(
        child=st.sampled_from([A, B]),
        gpn=st.sampled_from([24, 25, 42]),
        page=st.sampled_from(LIBRARY_BUILDS),
        touch=st.sampled_from([32, 48, 50, 63]),
    )
    def guest_guesses_a_page_another_holds(self, child, gpn, page, touch):
        """A guest builds a page it guesses another holds (a library build), asks for memory
        (a touch above its RAM), and writes the page again: with pages combined across guests
        a right guess waits for a copy-on-write, which the guest can time."""
        self.m.write(child, gpn * PAGE_SIZE, page)
        self.m.read(child, touch * PAGE_SIZE, 16)
        self.m.write(child, gpn * PAGE_SIZE + 8, b"\x01")

    @rule(child=st.sampled_from([A, B]), gpn=GPNS, frames=st.lists(FRAMES, min_size=1, max_size=3))
    def root_maps_through_its_memory_manager(self, child, gpn, frames):
        self.m.vid.map_frames(child, gpn, frames)

    @rule(child=st.sampled_from([A, B]), gpn=GPNS, count=st.integers(1, 3))
    def root_unmaps(self, child, gpn, count):
        call(self.m, ROOT, HvCallCode.UNMAP_GPA_PAGES, pack(child, gpn), rep_count=count)

    @rule(child=st.sampled_from([A, B]), frames=st.lists(FRAMES, min_size=1, max_size=3))
    def root_deposits(self, child, frames):
        call(self.m, ROOT, HvCallCode.DEPOSIT_MEMORY, pack(child), [pack(f) for f in frames])

    @rule(child=st.sampled_from([A, B]), count=st.integers(1, 3))
    def root_withdraws(self, child, count):
        call(self.m, ROOT, HvCallCode.WITHDRAW_MEMORY, pack(child, 0), rep_count=count)

    @rule(name=st.sampled_from([b"C", b"D"]))
    def root_creates_a_child(self, name):
        result = call(self.m, ROOT, HvCallCode.CREATE_PARTITION, pack(0) + name.ljust(8, b"\0"))
        if result.ok:
            pid = int.from_bytes(result.output, "little")
            call(self.m, ROOT, HvCallCode.INITIALIZE_PARTITION, pack(pid))
            self.m.vid.map_frames(pid, 0, self.m.vid.free_frames(2))

    @rule(
        calls=st.lists(
            st.tuples(
                st.sampled_from([A, B, A]),
                CODES,
                st.integers(0, 3),
                st.integers(0, 2),
                PIDS,
                SMALL,
                st.lists(WORDS, max_size=4),
                OUT_GPAS,
            ),
            min_size=1,
            max_size=4,
        )
    )
    def guest_hypercalls(self, calls):
        """A hostile guest's calls: real codes, plausible partition ids and small numbers."""
        for caller, code, reps, start, target, second, rest, out_gpa in calls:
            spec = CALLS[code]
            count = max(reps, start + 1) if spec.rep else 0
            value = HypercallInput.encode(code, rep_count=count, rep_start=start if spec.rep else 0)
            in_gpa = 2 * PAGE_SIZE
            place(self.m, caller, in_gpa, pack(target, second, *rest))
            before = dict(self.m.store.data)
            result = hypercall(self.m, caller, value, in_gpa, out_gpa)
            if not result.ok and result.reps == 0:
                assert self.m.store.data == before, "a failed hypercall changed state"

    @rule(
        caller=st.sampled_from([A, B]),
        code=st.sampled_from(sorted(c for c, s in CALLS.items() if s.rep)),
        start=st.sampled_from([1, 2, 255, 0xFFF]),
        out_gpa=OUT_GPAS,
    )
    def rep_call_at_the_boundaries(self, caller, code, start, out_gpa):
        """The fuzzer's boundary-value habit: a rep call on the caller's own VP 0 (or its own
        partition) whose rep start and output page sit at the edges a bounds check guards."""
        value = HypercallInput.encode(code, rep_count=start + 1, rep_start=start)
        in_gpa = 2 * PAGE_SIZE
        place(self.m, caller, in_gpa, pack(HV_PARTITION_ID_SELF, 0, 0))
        before = dict(self.m.store.data)
        result = hypercall(self.m, caller, value, in_gpa, out_gpa)
        if not result.ok and result.reps == 0:
            assert self.m.store.data == before, "a failed hypercall changed state"

    @rule(
        value=st.integers(0, 2**64 - 1),
        in_gpa=st.integers(0, 2**64 - 1),
        out_gpa=OUT_GPAS,
        caller=st.sampled_from([ROOT, A, B]),
    )
    def any_control_word(self, value, in_gpa, out_gpa, caller):
        before = dict(self.m.store.data)
        result = hypercall(self.m, caller, value, in_gpa, out_gpa)
        if not result.ok and result.reps == 0:
            assert self.m.store.data == before, "a failed hypercall changed state"

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def no_frame_mapped_in_two_children(self):
        if not self.on(Protection.EXCLUSIVE_GUEST_MEMORY) or not self.on(
            Protection.HYPERCALL_ONLY_ACCESS
        ):
            return
        st_ = self.m.store
        seen: dict[int, int] = {}
        for pid in partitions.children(st_):
            for gpn in range(partitions.field(st_, pid, "gpa_pages")):
                entry = memory.translate(st_, pid, gpn)
                if entry is not None:
                    other = seen.setdefault(entry[0], pid)
                    assert other == pid, f"frame {entry[0]:#x} mapped in {other} and {pid}"

    @invariant()
    def hypervisor_frames_in_no_map(self):
        if not self.on(Protection.SEPARATE_ADDRESS_SPACES):
            return
        st_ = self.m.store
        for pfn in LAY.hypervisor_frames:
            assert not memory.mappers(st_, pfn), f"hypervisor frame {pfn:#x} is mapped"
        for pid in partitions.partition_ids(st_):
            for pfn in partitions.pool(st_, pid):
                for p, g in memory.mappers(st_, pfn):
                    assert memory.translate(st_, p, g)[1] == "---", f"pool frame {pfn:#x} usable"

    @invariant()
    def frames_conserved(self):
        data = self.m.store.data
        owners = Counter(data[("frame", pfn)][0] for pfn in range(LAY.frames))  # KeyError: lost
        assert sum(owners.values()) == LAY.frames
        for pid in partitions.partition_ids(self.m.store):
            name = partitions.name_of(self.m.store, pid)
            pool = partitions.pool(self.m.store, pid)
            assert all(data[("frame", pfn)][0] == f"pool:{name}" for pfn in pool)
            assert owners[f"pool:{name}"] == len(pool), f"pool of {name} out of step"

    @invariant()
    def no_breach(self):
        breaches = [e for e in self.m.events[self.marks :] if e.kind is EventKind.BREACH]
        assert not breaches, f"breach: {breaches[0].detail_dict()}"


def machine_with(off: frozenset[str]):
    return type(f"Isolation_{'_'.join(sorted(off)) or 'all_on'}", (Isolation,), {"off": off})


@pytest.mark.parametrize("half", [0, 1])
def test_isolation_invariants_hold_with_every_protection_on(half):
    """220 programs of 50 steps, in two halves of different seeds so that two workers share
    them (one took half a minute of the suite's wall time alone; 300 in all took a tenth of
    make test's 5 minutes)."""
    machine = machine_with(frozenset())
    run_state_machine_as_test(
        seed(0x15_0_1A7E + half)(machine),
        settings=settings(max_examples=110, stateful_step_count=50),
    )


KNOCKOUTS = [
    Protection.SEPARATE_ADDRESS_SPACES,
    Protection.EXCLUSIVE_GUEST_MEMORY,
    Protection.HYPERCALL_ONLY_ACCESS,
    Protection.SDL_INPUT_VALIDATION,
]


@pytest.mark.parametrize("off", [p.value for p in KNOCKOUTS])
def test_knock_out_finds_a_violation_within_200_examples(off):
    with pytest.raises((AssertionError, Flaky)):
        run_state_machine_as_test(
            machine_with(frozenset({off})),
            settings=settings(
                max_examples=200,
                stateful_step_count=50,
                phases=(Phase.explicit, Phase.generate),  # finding is the point, not shrinking
            ),
        )
