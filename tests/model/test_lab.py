"""Time travel: every way of reaching step n gives the same state; compare finds the decider."""

from hypothesis import given, settings
from hypothesis import strategies as st

from hvlab.lab import Lab
from hvlab.model.core.protections import Design
from hvlab.model.core.store import state_digest


def forward_digests(lab: Lab, steps: set[int]) -> dict[int, str]:
    """State digest after each event of `steps`, reached by stepping one at a time from the
    start (a digest of the whole state costs more than the step: only the targets take one)."""
    lab.rewind()
    out = {}
    for n in range(len(lab.events)):
        lab.step()
        if n in steps:
            out[n] = lab.state.digest()
    return out


EVERY = 16
LAB = Lab("memory-probe", checkpoint_every=EVERY)
# Jump targets: every checkpoint and the steps either side of it (where a jump restores a
# snapshot and replays from it, or just misses one), every 5th step between, and both ends.
TARGETS = sorted(
    (
        {n for c in range(0, len(LAB.events), EVERY) for n in (c - 1, c, c + 1)}
        | set(range(0, len(LAB.events), 5))
        | {len(LAB.events) - 1}
    )
    - {-1, len(LAB.events)}
)
_digests: dict[int, str] = {}


def digest_at(n: int) -> str:
    """The stepped state's digest at `n`, computed once per worker on first use (not at
    import, which every worker of the suite pays)."""
    if not _digests:
        _digests.update(forward_digests(LAB, {*TARGETS, 100}))
    return _digests[n]


def test_rewind_gives_the_initial_state_and_run_the_final_one():
    lab = Lab("boot", checkpoint_every=10)
    end = lab.state.digest()
    lab.rewind()
    assert lab.cursor == -1 and lab.event is None
    assert lab.state.digest() == state_digest(lab._checkpoints[-1])
    lab.run()
    assert lab.state.digest() == end and lab.cursor == lab.last


@settings(max_examples=80)  # up to 640 jumps, each checked against the stepped state
@given(st.lists(st.sampled_from([-1, *TARGETS]), min_size=1, max_size=8))
def test_any_sequence_of_jumps_lands_on_the_stepped_state(targets):
    for n in targets:
        expected = digest_at(n) if n >= 0 else state_digest(LAB._checkpoints[-1])
        LAB.goto(n)  # after digest_at, which steps LAB through the run the first time
        assert LAB.state.digest() == expected


def test_back_undoes_step_and_clamps_at_the_ends():
    lab = Lab("boot")
    lab.goto(40)
    before = lab.state.digest()
    lab.step(3)
    lab.back(3)
    assert lab.cursor == 40 and lab.state.digest() == before
    assert lab.goto(10**9) == lab.last
    assert lab.goto(-50) == -1


def test_state_at_does_not_move_the_cursor():
    expected = digest_at(100)
    LAB.goto(5)
    view = LAB.state_at(100)
    assert LAB.cursor == 5
    assert view.digest() == expected


def test_diff_is_what_the_event_changed():
    lab = Lab("boot")
    created = next(
        e
        for e in lab.events
        if e.name == "HvCallCreatePartition"
        and e.phase == "dispatch"
        and e.status.name == "SUCCESS"
    )
    keys = [k for k, _old, _new in lab.diff(created.step)]
    assert "part:0x2:name" in keys and "parts" in keys
    lab.goto(created.step - 1)
    assert lab.state.get(("part", 2, "name")) is None
    lab.step()
    # the hypervisor knows the partition by id; the root names it next
    assert lab.state.get(("part", 2, "name")) == "partition-2"
    named = next(e for e in lab.events if e.name == "name-partition")
    assert lab.state_at(named.step).get(("part", 2, "name")) == "A"


def test_compare_same_design_has_no_divergence():
    assert Lab("memory-probe", seed=3).compare(Lab("memory-probe", seed=3)) is None


def test_compare_names_the_protection_that_decided():
    on = Lab("memory-probe")
    for off in (
        "separate-address-spaces",
        "hypercall-only-access",
        "sdl-input-validation",
        "exclusive-guest-memory",
    ):
        other = Lab("memory-probe", Design.build("hyperv", [off]))
        div = on.compare(other)
        assert div is not None and div.protection == off, (off, div)
        # up to there the runs read the same; there, some field a learner sees differs
        assert all(on.events.shape(i) == other.events.shape(i) for i in range(div.step))
        assert div.fields and all(a != b for _f, a, b in div.fields)


def test_checkpoints_are_bounded_by_the_interval():
    lab = Lab("memory-probe", checkpoint_every=50)
    assert len(lab._checkpoints) == 1 + len(lab.events) // 50
