"""Every command that reads a file refuses, before reading, what is not a regular file or is too
big, and says in one line what a deeply nested document is, instead of hanging on a FIFO,
reading a device for ever, or ending in a RecursionError."""

from __future__ import annotations

import os

import pytest

# (command before the path, command after it, the exit status, what the file is called)
READERS = {
    "check": (["check"], ["--no-contracts"], 2, "lesson.toml"),
    "lessons": (["lessons", "--lessons"], [], 2, "lesson.toml"),
    "replay": (["replay"], [], 2, "moment.hvtrace"),
    "replay-check": (["replay", "--check"], [], 1, "moment.hvtrace"),
    "progress-import": (["progress", "import"], [], 2, "progress.toml"),
    "plugin": (["run", "boot", "--plugin"], [], 0, "plugin.py"),
}


def make(kind: str, folder, name: str) -> str:
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        return "/dev/zero"
    elif kind == "folder":
        path.mkdir()
    elif kind == "too-big":
        with open(path, "wb") as f:
            f.truncate(6 * 1024 * 1024)  # sparse: the size is what is refused, nothing is read
    elif kind == "deep":
        nested = "[" * 4000 + "]" * 4000
        path.write_text(f"x = {nested}\n")
    return str(path)


EXPECTED = {
    "fifo": "FIFO",
    "device": "character device",
    "folder": "folder",
    "too-big": "too big",
    "deep": "nested too deeply",
}


@pytest.mark.parametrize("kind", EXPECTED)
@pytest.mark.parametrize("command", READERS)
def test_a_file_that_cannot_be_read_is_one_line(cli, tmp_path, command, kind):
    before, after, code, name = READERS[command]
    path = make(kind, tmp_path, name)
    line = cli.refused(*before, path, *after, code=code)
    expected = EXPECTED[kind]
    if command == "plugin" and kind == "deep":
        expected = "cannot import"  # Python's own parser refuses it, and says where
    if command in ("check", "lessons") and kind == "folder":
        expected = "no lessons found"  # a folder is a place to look for lessons
    assert expected in line, line
    assert path in line or path.rsplit("/", 1)[-1] in line


def test_a_lesson_folder_holding_a_fifo_still_loads_the_others(cli, tmp_path):
    from hvlab.lessons import bundled_dir

    os.mkfifo(tmp_path / "stuck.toml")
    (tmp_path / "tour.toml").write_bytes((bundled_dir() / "01-tour.toml").read_bytes())
    code, out, err = cli("check", str(tmp_path), "--no-contracts")
    assert code == 2 and "FIFO" in err and "stuck.toml" in err
    assert "ok   lesson   tour" in out and "1 passed, 0 failed, 1 unreadable" in out
