"""hvlab check, lessons, new lesson, progress and fuzz from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from hvlab.fuzz import fuzz
from hvlab.lessons import bundled_dir, load_lessons


def hvlab(*args, env=None, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "hvlab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def shipped_ids():
    lessons, _ = load_lessons([bundled_dir()])
    return [x.id for x in lessons]


def test_check_junit_names_every_lesson_and_contract(tmp_path):
    # two lessons and every contract (test_shipped replays every lesson, in process)
    report = tmp_path / "report.xml"
    lessons = [str(p) for p in sorted(bundled_dir().glob("*.toml"))[:2]]
    done = hvlab("check", "--junit", str(report), *lessons)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(report).getroot()
    names = {(c.get("classname"), c.get("name")) for c in suite.iter("testcase")}
    assert {("hvlab.lessons", i) for i in shipped_ids()[:2]} <= names
    assert len([n for n in names if n[0] == "hvlab.lessons"]) == 2
    assert ("hvlab.contracts", "mitm-driver") in names
    assert suite.get("failures") == "0" and suite.get("errors") == "0"


def test_check_json_and_a_failing_lesson(tmp_path):
    lesson = tmp_path / "wrong.toml"
    done = hvlab("new", "lesson", "wrong", "--dir", str(tmp_path))
    assert done.returncode == 0 and lesson.exists()
    ok = hvlab("check", "--no-contracts", "--json", str(lesson))
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True
    # a reference that no longer reaches its goal fails the check, exit 1
    lesson.write_text(lesson.read_text().replace('solution = ["end"]', 'solution = ["step 2"]'))
    bad = hvlab("check", "--no-contracts", "--json", str(lesson))
    doc = json.loads(bad.stdout)
    assert bad.returncode == 1 and doc["passed"] is False
    assert "reference solution fails: step 1" in doc["results"][0]["message"]
    # a path that is not there: exit 2, one line on stderr, and still one JSON object
    gone = hvlab("check", "--no-contracts", "--json", str(tmp_path / "gone.toml"))
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1 and "gone.toml" in gone.stderr
    assert json.loads(gone.stdout) == {
        "passed": False,
        "results": [],
        "errors": [f"check: {tmp_path / 'gone.toml'}: no such file or folder"],
    }


def test_new_lesson_refuses_bad_ids_and_existing_files(tmp_path):
    assert hvlab("new", "lesson", "Bad_Id", "--dir", str(tmp_path)).returncode == 2
    assert hvlab("new", "lesson", "ok", "--dir", str(tmp_path)).returncode == 0
    again = hvlab("new", "lesson", "ok", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_lessons_lists_status_and_progress_moves_between_machines(tmp_path):
    env = {"HVLAB_DATA_DIR": str(tmp_path / "data")}
    listed = hvlab("lessons", env=env)
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].split()[1:3] == ["tour", "new"]
    share = tmp_path / "share.toml"
    share.write_text('schema_version = 1\n[lessons.tour]\nstatus = "done"\nstep = 1\n')
    imported = hvlab("progress", "import", str(share), env=env)
    assert imported.returncode == 0, imported.stderr
    assert hvlab("lessons", env=env).stdout.splitlines()[0].split()[1:3] == ["tour", "done"]
    out = tmp_path / "out.toml"
    assert hvlab("progress", "export", str(out), env=env).returncode == 0
    assert 'status = "done"' in out.read_text()
    broken = tmp_path / "broken.toml"
    broken.write_text("schema_version = [")
    refused = hvlab("progress", "import", str(broken), env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "Traceback" not in refused.stderr


def test_lesson_with_an_unknown_id_is_one_line():
    done = hvlab("lesson", "nope")
    assert done.returncode == 2 and "unknown lesson 'nope' (valid: tour," in done.stderr


def test_fuzz_finds_the_planted_gap_and_nothing_with_it_on():
    found = fuzz(frozenset({"sdl-input-validation"}), seconds=60)
    assert found.problem is not None and found.minimal is not None
    assert "GET_VP_REGISTERS" in found.minimal.describe()
    clean = fuzz(frozenset(), seconds=600, max_calls=2000)
    assert clean.problem is None and clean.calls == 2000


def test_fuzz_command_exit_codes():
    found = hvlab("fuzz", "--off", "sdl-input-validation")
    assert (
        found.returncode == 1 and "VIOLATION" in found.stdout and "minimal input:" in found.stdout
    )
    clean = hvlab("fuzz", "--seconds", "1")
    assert clean.returncode == 0 and "no violation in" in clean.stdout
    bad = hvlab("fuzz", "--off", "nope")
    assert bad.returncode == 2 and "unknown protection 'nope'" in bad.stderr
