"""The matrix for the learner's own moves (`J`, `hvlab run --every-design`): the shortcut from
the booted state agrees with full runs, and the report names what stops the moves."""

from __future__ import annotations

import json

import pytest

from hvlab.cli import main
from hvlab.matrix import all_designs
from hvlab.model.scenarios.moves import AT_END
from hvlab.moves_matrix import _cells, judge_moves
from hvlab.session import RunSpec, Session

STORAGE = ((AT_END, "A: send storage write 10 gpa=0xd8000"),)  # B's secret frame, as A's buffer
ROOT_DRIVER = (
    (AT_END, "root: load-driver snoop into=root"),
    (AT_END, "root.driver:snoop: read 0xd8000"),
)
MAP = ((AT_END, "root: map A 0x30000 0xd8000 rw"), (AT_END, "A: read 0x30000"))


def run_of(moves, after_boot: bool) -> dict:
    return dict(
        workload="boot", moves=moves, seed=0, attack=None, workloads=None, site_handler=None,
        defenses=(), canaries=(), slot_handler=None, after_boot=after_boot,
    )  # fmt: skip


@pytest.mark.parametrize("moves", [STORAGE, MAP], ids=["storage", "map"])
def test_the_booted_state_shortcut_gives_what_full_runs_give(moves):
    designs = all_designs()[::23]  # a spread of sizes, every protection on and off in some
    fast, _ = _cells(designs, **run_of(moves, True))
    full, _ = _cells(designs, **run_of(moves, False))
    assert {d: c.result for d, c in fast.items()} == {d: c.result for d, c in full.items()}
    assert {c.result for c in full.values()} >= {"breached", "blocked"}  # both kinds sampled


def test_a_forged_buffer_list_is_stopped_by_the_vsp_check_alone():
    j = judge_moves("boot", STORAGE, frozenset({"vsp-validates-input"}))
    assert j.mine.result == "breached" and "B-secret reached A" in j.mine.reason
    assert j.through == (frozenset({"vsp-validates-input"}),)
    assert j.stoppers() == ("vsp-validates-input",)
    assert sum(c.result == "breached" for c in j.cells.values()) == len(j.cells) // 2
    text = "\n".join(j.lines())
    assert "would have stopped them: vsp-validates-input" in text


def test_what_stopped_blocked_moves_is_named():
    j = judge_moves("boot", MAP, frozenset())
    assert j.mine.result == "blocked"
    assert j.deciders() == ("exclusive-guest-memory",)
    assert j.through == (frozenset({"exclusive-guest-memory"}),)


def test_a_driver_in_the_root_gets_through_under_every_design():
    j = judge_moves("boot", ROOT_DRIVER, frozenset())
    assert j.through == (frozenset(),)
    assert all(c.result == "breached" for c in j.cells.values())
    assert "under every design" in "\n".join(j.lines())


def test_moves_made_mid_run_are_judged_by_full_runs_at_their_step(monkeypatch):
    # two designs are enough to tell: from the booted state the request would be refused
    # (every protection on) or breach (the check off); at step 300 it finds no channel
    two = [frozenset(), frozenset({"vsp-validates-input"})]
    monkeypatch.setattr("hvlab.moves_matrix.all_designs", lambda defenses=(): two)
    session = Session(RunSpec("boot"))
    session.goto(300)  # boot is under way: A has no storage channel yet
    session.do("A: send storage write 10 gpa=0xd8000")
    judged = session.judge()
    assert session.judged is judged
    assert {c.result for c in judged.cells.values()} == {"done"} and not judged.through
    session.undo()
    assert session.judged is None  # the judgement was of moves no longer made


def test_every_design_from_the_command_line(capsys):
    code = main(
        ["run", "boot", "--off", "vsp-validates-input", "--do", STORAGE[0][1],
         "--every-design", "--json"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["result"] == "breached" and doc["would_stop"] == ["vsp-validates-input"]
    assert doc["through_when_off"] == [["vsp-validates-input"]]


def test_every_design_without_moves_is_one_line_and_exit_2(capsys):
    assert main(["run", "boot", "--every-design"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--every-design judges moves" in err
