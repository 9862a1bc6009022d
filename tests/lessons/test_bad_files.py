"""Bad lesson files: one line naming the file (and the line where there is one), exit 2, and
the other lessons still load."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hvlab.lessons import load_lessons
from hvlab.lessons.runner import known_ids
from hvlab.plugins import load_catalogue

KNOWN = known_ids(load_catalogue([], echo=False))

GOOD = """\
schema_version = 1
id = "{id}"
title = "Good"
prerequisites = []

[[steps]]
narration = "Look."
action = {{ run = "boot", attack = "hv-read" }}
goal = {{ attack = "hv-read", result = "blocked", by = "separate-address-spaces" }}
solution = ["end"]

[known_bad]
step = 1
moves = ["step 1"]
"""

# (file text, expected problem, expected line or None)
BAD = {
    "invalid-toml": ('schema_version = 1\nid = "x\n', "invalid TOML", 2),
    "empty": ("", "the file is empty", None),
    "missing-id": (
        'schema_version = 1\ntitle = "t"\n[[steps]]\nnarration = "n"\n',
        "missing field 'id'",
        None,
    ),
    "missing-schema": ('id = "x"\ntitle = "t"\n', "missing field 'schema_version'", None),
    "missing-narration": (
        'schema_version = 1\nid = "x"\ntitle = "t"\n\n[[steps]]\ntitle = "s"\n',
        "step 1: missing field 'narration'",
        5,
    ),
    "mistyped-title": (
        'schema_version = 1\nid = "x"\ntitle = 3\n[[steps]]\nnarration = "n"\n',
        "'title' must be a string, not int",
        3,
    ),
    "mistyped-steps": (
        'schema_version = 1\nid = "x"\ntitle = "t"\nsteps = "all"\n',
        "'steps' must be a list, not str",
        4,
    ),
    "unknown-attack": (
        GOOD.format(id="x").replace('attack = "hv-read" }', 'attack = "hv-reed" }'),
        "unknown attack 'hv-reed'",
        8,
    ),
    "unknown-protection": (
        GOOD.format(id="x").replace('by = "separate-address-spaces"', 'by = "firewall"'),
        "unknown protection 'firewall'",
        9,
    ),
    "unknown-workload": (
        GOOD.format(id="x").replace('run = "boot"', 'run = "reboot"'),
        "unknown workload 'reboot'",
        8,
    ),
    "newer-schema": (
        GOOD.format(id="x").replace("schema_version = 1", "schema_version = 9"),
        "schema_version 9 is newer than this hvlab reads",
        1,
    ),
    "predict-answer": (
        GOOD.format(id="x").replace(
            'solution = ["end"]',
            'solution = ["end"]\npredict = { prompt = "?", choices = ["a", "b"], answer = 2 }',
        ),
        "answer 2 is not the index of a choice",
        None,
    ),
    "goal-without-solution": (
        GOOD.format(id="x").replace('solution = ["end"]\n', ""),
        "needs a solution",
        None,
    ),
    "unknown-move": (GOOD.format(id="x").replace('["end"]', '["fly"]'), "unknown move 'fly'", 10),
    "bad-do-move": (
        GOOD.format(id="x").replace('["end"]', '["do A: frobnicate"]'),
        "unknown action 'frobnicate'",
        10,
    ),
    "status-without-move": (
        GOOD.format(id="x").replace('by = "separate-address-spaces"', 'status = "HV_STATUS_X"'),
        "status and breach belong to a goal with move = true",
        9,
    ),
    "unknown-move-status": (
        GOOD.format(id="x").replace(
            'attack = "hv-read", result = "blocked", by = "separate-address-spaces"',
            'move = true, status = "HV_STATUS_NOPE"',
        ),
        "unknown status 'HV_STATUS_NOPE'",
        9,
    ),
    "move-goal-with-attack": (
        GOOD.format(id="x").replace(
            'attack = "hv-read", result', 'move = true, attack = "hv-read", result'
        ),
        "a move goal takes kind, status, breach, result and by",
        9,
    ),
    "unknown-judged": (
        GOOD.format(id="x").replace(
            'attack = "hv-read", result = "blocked", by = "separate-address-spaces"',
            'judged = "always"',
        ),
        "judged must be any, stoppable, unstoppable, not 'always'",
        9,
    ),
    "judged-with-more": (
        GOOD.format(id="x").replace(
            'attack = "hv-read", result = "blocked"', 'judged = "any", result = "blocked"'
        ),
        "a judged goal takes judged alone",
        9,
    ),
    "wrong-count": (
        GOOD.format(id="x").replace(
            'solution = ["end"]',
            'solution = ["end"]\npredict = { prompt = "?", choices = ["a", "b"], answer = 0, '
            'wrong = ["", "b is not it", "c"] }',
        ),
        "wrong has 3 lines for 2 choices",
        None,
    ),
    "wrong-for-the-answer": (
        GOOD.format(id="x").replace(
            'solution = ["end"]',
            'solution = ["end"]\npredict = { prompt = "?", choices = ["a", "b"], answer = 0, '
            'wrong = ["a is it", "b is not"] }',
        ),
        "wrong[0] is the answer's",
        None,
    ),
    "unknown-evidence-kind": (
        GOOD.format(id="x").replace(
            'solution = ["end"]',
            'solution = ["end"]\npredict = { prompt = "?", choices = ["a", "b"], answer = 0, '
            'evidence = { kind = "sparkle" } }',
        ),
        "unknown kind 'sparkle'",
        None,
    ),
    "unknown-evidence-phase": (
        GOOD.format(id="x").replace(
            'solution = ["end"]',
            'solution = ["end"]\npredict = { prompt = "?", choices = ["a", "b"], answer = 0, '
            'evidence = { kind = "hypercall", phase = "reply" } }',
        ),
        "unknown phase 'reply' (valid: entry, validate, dispatch, complete)",
        None,
    ),
    "exercise-id": (
        GOOD.format(id="exercise-x"),
        "ids beginning 'exercise-' are the exercises'",
        2,
    ),
    "unknown-field": (
        GOOD.format(id="x").replace('title = "Good"', 'title = "Good"\ncolour = "red"'),
        "unknown field 'colour'",
        4,
    ),
    "not-utf8": (b'schema_version = 1\nid = "\xff"\n', "not UTF-8", None),
    "ten-choices": (
        GOOD.format(id="x").replace(
            'solution = ["end"]',
            'solution = ["end"]\npredict = { prompt = "?", choices = '
            + str([str(n) for n in range(10)]).replace("'", '"')
            + ", answer = 0 }",
        ),
        "at most nine choices",
        None,
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_file_is_one_line_naming_file_line_and_problem(tmp_path, name):
    text, problem, line = BAD[name]
    bad = tmp_path / f"{name}.toml"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "good.toml").write_text(GOOD.format(id="good"))
    lessons, errors = load_lessons([tmp_path], KNOWN)
    assert [x.id for x in lessons] == ["good"]  # the other lesson still loads
    (error,) = errors
    assert "\n" not in error and problem in error, error
    where = f"{bad}:{line}:" if line else f"{bad}:"
    assert error.startswith(where), error


def test_duplicate_ids_and_cycles(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD.format(id="same"))
    (tmp_path / "b.toml").write_text(GOOD.format(id="same"))
    (tmp_path / "c.toml").write_text(
        GOOD.format(id="c").replace("prerequisites = []", 'prerequisites = ["d"]')
    )
    (tmp_path / "d.toml").write_text(
        GOOD.format(id="d").replace("prerequisites = []", 'prerequisites = ["c"]')
    )
    (tmp_path / "e.toml").write_text(
        GOOD.format(id="e").replace("prerequisites = []", 'prerequisites = ["nope"]')
    )
    lessons, errors = load_lessons([tmp_path], KNOWN)
    assert [x.id for x in lessons] == ["same"]
    assert any("duplicate lesson id 'same'" in e and str(tmp_path / "b.toml") in e for e in errors)
    assert sum("form a cycle" in e for e in errors) == 2
    assert any("unknown prerequisite 'nope'" in e for e in errors)


def test_hvlab_check_reports_bad_files_and_exits_2(tmp_path):
    (tmp_path / "bad.toml").write_text(textwrap.dedent(BAD["unknown-attack"][0]))
    (tmp_path / "good.toml").write_text(GOOD.format(id="good"))
    done = subprocess.run(
        [sys.executable, "-m", "hvlab", "check", "--no-contracts", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "unknown attack 'hv-reed'" in done.stderr
    assert "ok   lesson   good" in done.stdout
    assert "Traceback" not in done.stderr
