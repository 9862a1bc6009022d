"""The learner's moves against the model: real statuses, the oracle's verdict on each move,
forks that equal full runs, undo, and every malformed line as one clear error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvlab.lab import Lab
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Design
from hvlab.model.hypervisor.constants import HvStatus
from hvlab.model.scenarios.moves import ACTIONS, MoveError, help_text, parse
from hvlab.session import RunSpec, Session, SessionError

BOOT = Lab("boot", record=True)  # a lab moves fork from
MID = 700  # a step of boot where both children run


def moved(line: str, step: int = MID, design: Design | None = None, workload: str = "boot"):
    return Lab(workload, design, moves=((step, line),))


def move_events(lab: Lab, number: int = 1):
    return [e for e in lab.events if e.move == number]


def reply(lab: Lab, number: int = 1) -> str:
    for e in move_events(lab, number):
        if e.kind is EventKind.MOVE and e.name == "reply":
            return e.detail_dict()["reply"]
    raise AssertionError("the move has no reply event")


def test_a_childs_create_partition_is_access_denied_by_hypercall_only_access():
    lab = moved("A: hypercall HvCallCreatePartition")
    verdict = lab.outcome.move(1)
    assert verdict.result == "blocked"
    assert verdict.protection == "hypercall-only-access"
    assert verdict.status is HvStatus.ACCESS_DENIED
    assert reply(lab) == "HV_STATUS_ACCESS_DENIED"
    calls = [e for e in move_events(lab) if e.kind is EventKind.HYPERCALL]
    assert [e.phase.value for e in calls] == ["entry", "validate", "complete"]


def test_off_hypercall_only_access_the_same_move_gets_through():
    off = Design.build("hyperv", ["hypercall-only-access"])
    lab = moved("A: hypercall HvCallCreatePartition", design=off)
    assert lab.outcome.move(1).result == "done"
    assert reply(lab).startswith("HV_STATUS_")
    assert reply(lab) != "HV_STATUS_ACCESS_DENIED"


def test_a_read_above_its_ram_is_an_unmapped_gpa_intercept_to_the_root():
    lab = moved("A: read 0x28000")
    kinds = [(e.kind, e.name) for e in move_events(lab)]
    assert any(k is EventKind.INTERCEPT for k, _ in kinds), kinds
    intercept = next(e for e in move_events(lab) if e.kind is EventKind.INTERCEPT)
    fault = next(e for e in move_events(lab) if e.name == "access-failed")
    waited = fault.time - intercept.time  # the VP is suspended from the intercept to the fault
    assert reply(lab) == f"no data: the access faulted (the VP waited {waited} ticks for the root)"
    assert lab.outcome.move(1).protection == "exclusive-guest-memory"


def test_out_to_the_ide_port_goes_to_the_worker_process():
    lab = moved("A: out 0x1f0 0x41")
    intercepts = [e for e in move_events(lab) if e.kind is EventKind.INTERCEPT]
    assert intercepts and intercepts[0].detail_dict().get("port") == 0x1F0
    assert any("vmwp" in e.actor for e in move_events(lab)), [e.actor for e in move_events(lab)]


def b_secret_frame(lab: Lab) -> int:
    return lab.state.get(("canary", "B-secret"))[2]


def test_mapping_bs_frame_into_a_is_refused_then_with_the_policy_off_a_read_breaches():
    frame = b_secret_frame(BOOT)
    line = f"root: map A 0x30000 {frame * 0x1000:#x} rw"
    on = moved(line)
    assert on.outcome.move(1).result == "blocked"
    assert on.outcome.move(1).protection == "exclusive-guest-memory"
    off = Design.build("hyperv", ["exclusive-guest-memory"])
    lab = Lab("boot", off, moves=((MID, line), (MID, "A: read 0x30000")))
    assert lab.outcome.move(1).result == "done"
    second = lab.outcome.move(2)
    assert second.result == "breached"
    assert (second.canary, second.principal) == ("B-secret", "A")
    assert lab.outcome.result == "breached"


@pytest.mark.parametrize(
    "line",
    [
        "A: hypercall HvCallGetPartitionId",
        "B: read 0x1000 32",
        "root: read 0x10000",
        "A: write 0x1000 0x41",
        "A: in 0x1f7",
        "A: send storage read 0",
        "A: send net B hello",
        "A: hypercall 0x4b raw=00",
        "root: load-driver filter into=root",
        "A: hypercall HvCallGetVpRegisters partition=self rep=1 start=0 elems=0x20010",
    ],
)
def test_every_action_kind_runs_and_gets_a_reply(line):
    lab = moved(line)
    assert lab.outcome.move(1) is not None
    assert reply(lab)
    assert lab.outcome.completed


def test_a_move_forks_the_run_events_up_to_its_step_are_kept():
    lab = moved("A: read 0x28000")
    assert list(lab.events[: MID + 1]) == list(BOOT.events[: MID + 1])
    assert min(e.step for e in move_events(lab)) > MID


@pytest.mark.parametrize("workload", ["boot", "ping", "disk-read", "ide-port-io"])
@pytest.mark.parametrize("where", [0.1, 0.5, 0.95])
def test_a_fork_from_the_record_equals_the_whole_run_recomputed(workload, where):
    base = Lab(workload, record=True)
    step = int(base.last * where)
    for line in ("A: read 0x28000", "B: hypercall HvCallCreatePartition", "root: read 0x1000"):
        full = Lab(workload, moves=((step, line),))
        forked = Lab(workload, moves=((step, line),), fork=base)
        assert forked.replayed > 0
        assert forked.digest == full.digest
        assert [e.op for e in forked.events] == [e.op for e in full.events]
        forked.goto(step)
        full.goto(step)
        assert forked.state.digest() == full.state.digest()


def test_the_same_moves_give_the_same_digest_and_undo_gives_the_original():
    one = moved("A: read 0x28000")
    assert one.digest == moved("A: read 0x28000").digest
    assert one.digest != BOOT.digest
    s = Session(RunSpec("boot"))
    original = s.lab.digest
    s.goto(MID)
    first = s.do("A: hypercall HvCallCreatePartition")
    assert first.verdict.result == "blocked" and s.cursor == first.answered
    assert s.lab.digest != original
    s.do("B: read 0x1000")
    assert len(s.spec.moves) == 2
    s.undo()
    assert s.lab.digest == one_move_digest()
    s.undo()
    assert s.lab.digest == original and s.spec.moves == ()
    assert s.undo() is None


def one_move_digest() -> str:
    return Lab("boot", moves=((MID, "A: hypercall HvCallCreatePartition"),)).digest


def test_switching_a_protection_replays_the_same_moves():
    s = Session(RunSpec("boot"))
    s.goto(MID)
    s.do("A: hypercall HvCallCreatePartition")
    s.toggle("hypercall-only-access")
    assert s.spec.moves == ((MID, "A: hypercall HvCallCreatePartition"),)
    assert s.lab.outcome.move(1).result == "done"
    assert s.divergence is not None


def test_json_events_carry_the_move_number():
    lab = moved("A: read 0x1000")
    marked = [e.to_json() for e in lab.events if e.move == 1]
    assert marked and all(j["move"] == 1 for j in marked)
    assert all("move" not in e.to_json() for e in BOOT.events)
    assert lab.to_json()["outcome"]["moves"][0]["name"] == "move:1"


BAD = [
    ("Z: read 0x1000", "'Z'"),
    ("A read 0x1000", "PRINCIPAL: ACTION"),
    ("A: frobnicate", "'frobnicate'"),
    ("A:", "needs an action"),
    ("A: hypercall HvCallFrobnicate", "'HvCallFrobnicate'"),
    ("A: hypercall HvCallCreatePartition colour=3", "'colour'"),
    ("A: read 0xZZ", "'0xZZ'"),
    ("A: read 0x1000 99999", "99999"),
    ("A: out 0x10000 1", "0x10000"),
    ("A: out 0x1f0 0x1ff", "0x1ff"),
    ("A: map B 0x1000 0x2000", "'map'"),
    ("A: load-driver x", "'load-driver'"),
    ("root: send net B hi", "'send'"),
    ("A: read", "missing"),
    ("A: read 1 2 3", "'3'"),
    ("A: send disk 0", "send what"),
    ("A: hypercall 0x4b raw=zz", "'zz'"),
    ("A: hypercall 0x7777", "0x7777"),
    ("hypervisor.driver:x: hypercall HvCallGetPartitionId", "physical memory only"),
    ("A: read 0x1000\nB: read 0", "one line"),
    ("root: map A 0x1000 0x2000 wx", "'wx'"),
]


@pytest.mark.parametrize(("line", "token"), BAD)
def test_every_malformed_move_is_one_line_naming_the_bad_token_with_an_example(line, token):
    with pytest.raises(MoveError) as caught:
        parse(line)
    text = str(caught.value)
    assert "\n" not in text
    assert token in text
    assert "e.g." in text or "one line" in text or "out of range" in text


def test_a_bad_move_in_a_session_changes_nothing():
    s = Session(RunSpec("boot"))
    s.goto(MID)
    before = s.lab.digest
    with pytest.raises(SessionError, match="frobnicate"):
        s.do("A: frobnicate")
    assert s.lab.digest == before and s.spec.moves == () and s.cursor == MID


def test_help_lists_every_action_and_each_calls_fields():
    assert all(a in help_text() for a in ACTIONS)
    assert "target_gpa_base @8" in help_text("hypercall MapGpaPages")
    with pytest.raises(MoveError):
        help_text("frobnicate")


def test_a_driver_principal_acts_only_once_its_driver_is_loaded():
    lab = moved("root.driver:nosuch: read 0x1000")
    assert "no driver 'nosuch' is loaded" in reply(lab)
    spy = f"root.driver:spy: read {b_secret_frame(BOOT) * 0x1000:#x}"
    lab = Lab("boot", moves=((MID, "root: load-driver spy into=root"), (MID, spy)))
    assert lab.outcome.move(2).result == "breached"
    assert lab.outcome.move(2).principal == "root.driver:spy"


WORDS = st.sampled_from(
    ["A:", "B:", "root:", "read", "write", "hypercall", "out", "in", "send", "map", "storage",
     "net", "0x1000", "0x28000", "1", "-1", "0xffffffffffffffffff", "HvCallCreatePartition",
     "partition=B", "rep=3", "start=9", "fast", "raw=00ff", "size=2", "A", "B", "x=y", "=", ":",
     "load-driver", "into=root", "elems=1,2", "HvCallMapGpaPages", "root.driver:d:", "é"]
)  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORDS, min_size=1, max_size=7), st.integers(0, BOOT.last))
def test_any_move_line_is_run_or_refused_in_one_line(words, step):
    line = " ".join(words)
    try:
        parse(line)
    except MoveError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    lab = Lab("boot", moves=((step, line),), fork=BOOT)
    assert lab.outcome.move(1) is not None or lab.outcome.completed


def test_a_lazy_lab_shows_the_reply_first_and_finishes_to_the_same_run():
    base = Lab("busy", record=True)
    step = base.last // 2
    full = Lab("busy", moves=((step, "A: read 0x1000"),))
    lazy = Lab("busy", moves=((step, "A: read 0x1000"),), fork=base, lazy=True)
    assert not lazy.finished
    assert len(lazy.events) < len(full.events)
    mine = [e for e in lazy.events if e.kind is EventKind.MOVE and e.name == "reply"]
    assert len(mine) == 1
    lazy.goto(mine[-1].step)
    here = lazy.state.digest()
    finished = []
    lazy.on_finish = lambda: finished.append(True)
    assert lazy.digest == full.digest  # asking for the digest computes the rest
    assert finished == [True] and lazy.finished
    assert lazy.cursor == mine[-1].step and lazy.state.digest() == here
    full.goto(mine[-1].step)
    assert full.state.digest() == here
    lazy.goto(lazy.last)
    full.goto(full.last)
    assert lazy.state.digest() == full.state.digest()


def test_a_move_forked_from_a_lab_still_computing_equals_the_whole_run():
    s = Session(RunSpec("busy"))
    s.goto(s.lab.last // 3)
    s.do("A: read 0x1000")
    assert not s.lab.finished
    s.goto(s.lab.known_last)  # the second move lands past what the first lab computed
    s.do("B: hypercall HvCallGetPartitionId")
    moves = s.spec.moves
    assert s.lab.digest == Lab("busy", moves=moves).digest


def test_completion_comes_from_the_models_tables():
    from hvlab.model.scenarios.move_completion import complete

    assert complete("") == ("", ["root:", "A:", "B:"])
    assert complete("A") == ("A: ", [])
    assert complete("A: hy") == ("A: hypercall ", [])
    assert complete("A: hypercall HvCallMapGpa") == ("A: hypercall HvCallMapGpaPages ", [])
    line, options = complete("A: hypercall HvCallMapGpaPages tar")
    assert line == "A: hypercall HvCallMapGpaPages target_"
    assert options == ["target_partition_id=", "target_gpa_base="]
    assert "partition=" in complete("A: hypercall HvCallMapGpaPages ")[1]
    assert complete("root: map ")[1] == ["A", "B"]
    assert complete("root.driver:spy: re", ("root.driver:spy",))[0] == "root.driver:spy: read "
    assert complete("A: read 0x1")[1] == []


@pytest.mark.parametrize(
    ("attack", "workload", "design"),
    [("mitm-driver", "ping", "monolithic"), ("guest-snoop", "boot", "hyperv")],
)
def test_a_fork_of_an_attacked_run_equals_it_recomputed(attack, workload, design):
    """Probes change an actor's scope and plugins run at sites: the replay must keep both."""
    from hvlab.plugins import load_catalogue, site_handler

    cat = load_catalogue([], echo=False)
    kw = {"attack": cat.attack(attack), "site_handler": site_handler(cat),
          "defenses": cat.extra_protections}  # fmt: skip
    chosen = Design.build(design, [], cat.extra_protections)
    base = Lab(workload, chosen, record=True, **kw)
    moves = ((int(base.last * 0.9), "A: read 0x1000"),)
    forked = Lab(workload, chosen, moves=moves, fork=base, **kw)
    assert forked.replayed > 0
    assert forked.digest == Lab(workload, chosen, moves=moves, **kw).digest


def test_help_is_asked_with_or_without_the_principal_the_line_starts_with():
    from hvlab.model.scenarios.moves import help_topic

    assert help_topic("help") == "" and help_topic("A: help") == ""
    assert help_topic("A: help map") == "map"
    assert help_topic("help hypercall Map") == "hypercall Map"
    assert help_topic("A: read 0x1000") is None and help_topic("A: helper") is None


def test_a_move_that_failed_with_no_protection_deciding_says_so():
    from hvlab.model.core.canaries import ProbeOutcome
    from hvlab.model.hypervisor.constants import HvStatus
    from hvlab.render import verdict_text

    failed = ProbeOutcome("move:1", "done", 9, status=HvStatus.INVALID_PARAMETER)
    assert verdict_text(failed) == (
        "done: it failed with HV_STATUS_INVALID_PARAMETER, and no protection decided it"
    )
    assert verdict_text(ProbeOutcome("move:1", "done", 9, status=HvStatus.SUCCESS)) == (
        "done, nothing refused it"
    )
