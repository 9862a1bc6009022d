"""Numbers and ids are refused by the parser with the range that is allowed: nan, zero, negative
and huge values, Unicode digits that str.isdigit accepts, and ids with a trailing newline."""

from __future__ import annotations

import pytest

from hvlab.lessons import LessonError, load_lesson
from hvlab.scaffold import ScaffoldError, new_lesson

BAD_NUMBERS = {
    "present-nan": (["--present", "nan"], "from 0.05 to 3600"),
    "present-zero": (["--present", "0"], "from 0.05 to 3600"),
    "present-tiny": (["--present", "1e-9"], "from 0.05 to 3600"),
    "present-negative": (["--present", "-1"], "from 0.05 to 3600"),
    "present-inf": (["--present", "inf"], "from 0.05 to 3600"),
    "jobs-zero": (["matrix", "--jobs", "0"], "of at least 1"),
    "jobs-negative": (["matrix", "--jobs", "-1"], "of at least 1"),
    "fuzz-negative": (["fuzz", "--seconds", "-5"], "from 0.1 to 86400"),
    "fuzz-nan": (["fuzz", "--seconds", "nan"], "from 0.1 to 86400"),
    "seed-superscript": (["run", "boot", "--seed", "²"], "from 0 to"),
    "seed-negative": (["run", "boot", "--seed", "-3"], "from 0 to"),
    "port-high": (["serve", "--port", "70000"], "from 1 to 65535"),
    "port-zero": (["serve", "--port", "0"], "from 1 to 65535"),
    "step-low": (["export", "trace", "x.hvtrace", "--step", "-2"], "from -1 to"),
    "lesson-step-negative": (["export", "trace", "x.hvtrace", "--lesson-step", "-1"], "0 to 999"),
}


@pytest.mark.parametrize(("args", "allowed"), BAD_NUMBERS.values(), ids=BAD_NUMBERS.keys())
def test_a_bad_number_is_refused_with_its_range(cli, args, allowed):
    line = cli.refused(*args)
    assert allowed in line and f"'{args[-1]}'" in line


def test_jobs_above_the_core_count_are_capped(cli, monkeypatch):
    import hvlab.matrix

    asked = []
    real = hvlab.matrix.matrix
    monkeypatch.setattr(hvlab.matrix, "matrix", lambda *a, **kw: asked.append(kw) or real(*a, **kw))
    code, out, _ = cli("matrix", "--jobs", "1000")
    from hvlab.commands.common import CORES

    assert code == 0 and asked[0]["jobs"] == CORES and "attacks x" in out


LESSON = """\
schema_version = 1
id = "{id}"
title = "t"

[[steps]]
narration = "n"
action = {{ run = "boot", attack = "hv-read" }}
goal = {{ attack = "hv-read", result = "blocked" }}
solution = [{move}]
"""


@pytest.mark.parametrize(
    ("lesson_id", "move", "problem"),
    [
        ("x", '"goto --5"', "needs a step number from -1 to"),
        ("x", '"step ²"', "needs a count from 1 to"),
        ("x", '"back 0"', "needs a count from 1 to"),
        ("x", '"goto 0x10"', "needs a step number"),
        ("x", '"end now"', "takes no argument"),
        ("tour\\n", '"end"', "'id' holds the control character U\\+000A"),
        ("tour\\u001b[2J", '"end"', "'id' holds the control character U\\+001B"),
        ("tour-\\u00e9", '"end"', "must be lowercase letters, digits and dashes"),
    ],
)
def test_a_lesson_move_or_id_out_of_range_is_one_line(tmp_path, lesson_id, move, problem):
    path = tmp_path / "bad.toml"
    path.write_text(LESSON.format(id=lesson_id, move=move))
    with pytest.raises(LessonError, match=problem) as caught:
        load_lesson(path)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


@pytest.mark.parametrize("name", ["x\n", "x\n\n", "Tour", "a--b", "²"])
def test_a_scaffolded_name_is_checked_whole(tmp_path, name):
    with pytest.raises(ScaffoldError):
        new_lesson(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_the_jump_and_choose_dialogs_take_ascii_digits_only(tmp_path):
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp
    from hvlab.tui.dialogs import Choose

    cat = load_catalogue([], echo=False)
    app = HvlabApp(cat, Session(RunSpec("boot"), cat))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await pilot.press("²", "enter")  # not a step: refused, the lab at its step
        await pilot.pause()
        assert app.is_running and app.session.cursor == -1
        chosen = []
        app.push_screen(Choose("which?", ("a", "b")), chosen.append)
        await pilot.pause()
        await pilot.press("²")  # not a choice
        await pilot.pause()
        assert chosen == [] and isinstance(app.screen, Choose)
        await pilot.press("2")
        await pilot.pause()
        assert chosen == [1]
