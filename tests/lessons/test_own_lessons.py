"""A teacher's own lessons and plugins: `--lessons` offers them beside the shipped ones,
`--plugin` loads the plugin files they need, and a lesson names those plugins."""

from __future__ import annotations

from pathlib import Path

from hvlab.commands.common import lessons_and_progress
from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.runner import known_ids
from hvlab.plugins import load_catalogue
from tests.lessons.test_commands import hvlab

ROOT = Path(__file__).resolve().parents[2]
READER = ROOT / "docs" / "examples" / "hvlab-root-reader" / "hvlab_root_reader.py"

LESSON = """\
schema_version = 1
id = "root-reader"
title = "A driver of our own in the root"
plugins = ["hvlab_root_reader"]

[[steps]]
narration = "Our own driver reads guest A's secret."
action = { run = "boot", attack = "root-driver-reads-a" }
goal = { attack = "root-driver-reads-a", result = "breached" }
solution = ["end"]

[known_bad]
step = 1
moves = ["step 3"]
"""


def write_lesson(folder: Path, text: str = LESSON) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "root-reader.toml"
    path.write_text(text)
    return path


def test_a_lesson_with_its_plugin_file_passes_check(tmp_path):
    lesson = write_lesson(tmp_path / "mine")
    done = hvlab("check", "--no-contracts", "--plugin", str(READER), str(lesson))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   lesson   root-reader" in done.stdout


def test_a_lesson_whose_plugin_is_missing_is_one_line_naming_file_line_and_plugin(tmp_path):
    lesson = write_lesson(tmp_path / "mine")
    done = hvlab("check", "--no-contracts", str(lesson))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    # the missing plugin is named, not the attack id it would have brought
    assert lines[0].startswith(f"hvlab: {lesson}:4: needs the plugin 'hvlab_root_reader'")
    assert "install it, or name its file with --plugin" in lines[0]
    assert "Traceback" not in done.stderr


def test_lessons_may_name_the_loaded_plugins_and_no_others():
    cat = load_catalogue()
    known = known_ids(cat)
    assert "hvlab_root_reader" not in known["plugins"]
    assert "hvlab-attacks" in known["plugins"]


def test_a_plugin_file_that_does_not_load_makes_check_exit_2(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('half written')\n")
    tour = bundled_dir() / "01-tour.toml"  # one lesson: the plugin's error is the point
    done = hvlab("check", "--no-contracts", "--plugin", str(broken), str(tour))
    assert done.returncode == 2
    assert "broken.py:1: cannot import: RuntimeError: half written" in done.stderr


def test_own_lessons_come_after_the_shipped_ones(tmp_path):
    write_lesson(tmp_path / "mine")
    lessons, errors, cat, _progress = lessons_and_progress([str(tmp_path / "mine")], [str(READER)])
    assert errors == [] and cat.errors == []
    shipped, _ = load_lessons([bundled_dir()])
    assert [x.id for x in lessons] == [x.id for x in shipped] + ["root-reader"]


def test_lessons_command_lists_own_lessons_and_refuses_a_missing_folder(tmp_path):
    write_lesson(tmp_path / "mine")
    env = {"HVLAB_DATA_DIR": str(tmp_path / "data")}
    done = hvlab("lessons", "--lessons", str(tmp_path / "mine"), "--plugin", str(READER), env=env)
    assert done.returncode == 0, done.stderr
    shipped = len(list(bundled_dir().glob("*.toml")))
    line = next(x for x in done.stdout.splitlines() if "root-reader" in x)
    assert line.split()[:3] == [f"{shipped + 1}.", "root-reader", "new"]  # after the course
    missing = hvlab("lessons", "--lessons", str(tmp_path / "nowhere"), env=env)
    assert missing.returncode == 2
    nowhere = tmp_path / "nowhere"
    assert missing.stderr.strip() == f"hvlab: --lessons {nowhere}: no such file or folder"


def test_an_own_lesson_with_a_shipped_id_is_refused(tmp_path):
    text = LESSON.replace('id = "root-reader"', 'id = "tour"')
    lesson = write_lesson(tmp_path / "mine", text)
    env = {"HVLAB_DATA_DIR": str(tmp_path / "data")}
    done = hvlab("lessons", "--lessons", str(lesson), "--plugin", str(READER), env=env)
    assert done.returncode == 2
    assert f"{lesson}: duplicate lesson id 'tour'" in done.stderr


async def test_an_own_lesson_plays_in_the_tui_with_its_plugin(tmp_path):
    from hvlab.lessons.progress import Progress
    from hvlab.tui.app import HvlabApp
    from hvlab.tui.lab_screen import LabScreen

    write_lesson(tmp_path / "mine")
    lessons, _errors, cat, _progress = lessons_and_progress([str(tmp_path / "mine")], [str(READER)])
    progress = Progress.open(tmp_path / "progress.toml")
    lesson = lessons[-1]
    app = HvlabApp(cat, lessons=lessons, progress=progress, lesson=lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, LabScreen) and screen.lesson.lesson.id == "root-reader"
        assert app.session.spec.attack == "root-driver-reads-a"
        await pilot.press("e")
        await pilot.pause()
        assert screen.lesson.goal_met()  # the oracle saw our plugin's driver read A's secret
    assert progress.get("root-reader").status == "done"


def test_serve_refuses_a_missing_lessons_folder_in_the_terminal(tmp_path):
    done = hvlab("serve", "--lessons", str(tmp_path / "nowhere"), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"hvlab: --lessons {tmp_path / 'nowhere'}: no such file or folder"
