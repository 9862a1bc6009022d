"""Paths that cannot be used — a folder hvlab may not search or write, a name too long, a
current folder that was deleted — are one line naming the path, for every command that reads or
writes one; the TUI's w and s keys say so in a notification and the lab goes on."""

from __future__ import annotations

import os

import pytest

from ..unprivileged import run_hvlab, world_dir

LONG = "x" * 5000
READS = {
    "check": ["check", "--no-contracts", "{path}"],
    "lessons": ["lessons", "--lessons", "{path}"],
    "replay": ["replay", "--check", "{path}"],
    "progress-import": ["progress", "import", "{path}"],
    "plugin": ["run", "boot", "--plugin", "{path}"],
    "serve-lessons": ["serve", "--lessons", "{path}", "--port", "1"],
}
WRITES = {
    "junit": ["check", "--no-contracts", "lessons/01-tour.toml", "--junit", "{path}"],
    "topology": ["export", "topology", "{path}"],
    "topology-o": ["export", "topology", "-o", "{path}"],
    "trace": ["export", "trace", "{path}"],
    "progress-export": ["progress", "export", "{path}"],
}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def filled(args, path):
    return [a.replace("{path}", path) for a in args]


@pytest.mark.parametrize("command", READS)
def test_a_name_too_long_is_one_line(cli, command):
    code = 0 if command == "plugin" else 1 if command == "replay" else 2
    line = cli.refused(*filled(READS[command], f"/tmp/{LONG}.toml"), code=code)
    assert "File name too long" in line and "…" in line  # the path, shortened


@pytest.mark.parametrize("command", READS)
def test_an_unsearchable_folder_is_one_line(command):
    folder = world_dir()
    (folder / "locked").mkdir()
    inside = folder / "locked" / "file.toml"
    inside.write_text("schema_version = 1\n")
    (folder / "locked").chmod(0o000)
    done = run_hvlab(filled(READS[command], str(inside)), data_dir=folder, cwd=ROOT)
    assert done.returncode == (0 if command == "plugin" else 1 if command == "replay" else 2)
    (line,) = [x for x in done.stderr.splitlines() if x]
    assert "Permission denied" in line and str(inside) in line, line


@pytest.mark.parametrize("command", WRITES)
def test_a_read_only_folder_is_one_line(command):
    folder = world_dir()
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o555)
    target = folder / "ro" / "out.file"
    done = run_hvlab(filled(WRITES[command], str(target)), data_dir=folder, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x]
    assert "Permission denied" in line and str(target) in line, line
    assert not (folder / "ro").chmod(0o755) and os.listdir(folder / "ro") == []


@pytest.mark.parametrize("command", WRITES)
def test_a_folder_in_the_way_is_one_line_and_left_alone(cli, tmp_path, command):
    target = tmp_path / "out"
    target.mkdir()
    line = cli.refused(*filled(WRITES[command], str(target)))
    assert "is a folder, not a regular file" in line and str(target) in line
    assert target.is_dir() and os.listdir(target) == []
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


async def test_the_w_and_s_keys_in_a_deleted_folder_say_so(tmp_path, monkeypatch):
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    said = []
    cat = load_catalogue([], echo=False)
    app = HvlabApp(cat, Session(RunSpec("boot"), cat))
    async with app.run_test(size=(120, 40)) as pilot:
        app.notify = lambda message, **kw: said.append((message, kw.get("severity")))
        await pilot.press("n", "w", "s")
        await pilot.pause()
        assert app.is_running
    assert (
        "trace file not saved: the current folder no longer exists; cd to another and start again",
        "error",
    ) in said
    assert any(m.startswith("screenshot not saved: the current folder") for m, _ in said)
