"""Progress is never lost: atomic saves, a backup, broken files set aside, newer files read-only."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest

from hvlab.lessons.progress import Progress, ProgressError, read_file

VALID = b'schema_version = 1\n[lessons.tour]\nstatus = "done"\nstep = 1\n'


def saved(path, status="in-progress", step=0) -> Progress:
    p = Progress.open(path)
    entry = p.get("tour")
    entry.status, entry.step = status, step
    p.save()
    return p


def test_round_trip_and_backup(tmp_path):
    path = tmp_path / "progress.toml"
    saved(path, "in-progress", 0)
    saved(path, "done", 1)
    again = Progress.open(path)
    assert again.notices == [] and again.lessons["tour"].status == "done"
    # the previous good file is the backup
    assert read_file(again.backup)[1]["tour"].status == "in-progress"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "schema_version must be a whole number"),
        (VALID[:30], "invalid TOML"),
        (b"schema_version = 1\n[lessons.\xff]\n", "not UTF-8"),
        (b'schema_version = "one"\n', "schema_version must be a whole number"),
        (b"[lessons.tour]\nstep = 1\n", "schema_version must be a whole number"),
        (b'schema_version = 1\n[lessons.tour]\nstatus = "finished"\n', "status must be one of"),
        (b"schema_version = 1\n[lessons.tour]\nstep = -3\n", "step must be a whole number"),
        (b"schema_version = 1\nlessons = 4\n", "'lessons' must be a table"),
    ],
    ids=[
        "empty",
        "truncated",
        "invalid-utf8",
        "wrong-type",
        "missing-version",
        "bad-status",
        "bad-step",
        "bad-lessons",
    ],
)
def test_a_broken_file_is_set_aside_and_the_backup_restored(tmp_path, content, why):
    path = tmp_path / "progress.toml"
    saved(path, "in-progress", 0)
    saved(path, "done", 1)  # backup: in-progress
    path.write_bytes(content)
    p = Progress.open(path)
    (notice,) = p.notices
    assert why in notice and "moved to" in notice and "restored the backup" in notice
    assert p.lessons["tour"].status == "in-progress"
    aside = [f for f in tmp_path.iterdir() if ".broken-" in f.name]
    assert len(aside) == 1 and aside[0].read_bytes() == content  # nothing is deleted
    assert read_file(path)[1]["tour"].status == "in-progress"


def test_a_broken_file_without_backup_starts_afresh_but_is_kept(tmp_path):
    path = tmp_path / "progress.toml"
    path.write_bytes(b"\x00\x01garbage")
    p = Progress.open(path)
    assert p.lessons == {} and "no usable backup" in p.notices[0]
    assert any(".broken-" in f.name for f in tmp_path.iterdir())


def test_a_newer_file_is_read_only(tmp_path):
    path = tmp_path / "progress.toml"
    newer = b'schema_version = 7\n[lessons.tour]\nstatus = "done"\n'
    path.write_bytes(newer)
    p = Progress.open(path)
    assert p.read_only and "newer hvlab" in p.notices[0]
    assert p.lessons["tour"].status == "done"
    p.get("tour").status = "new"
    p.save()
    assert path.read_bytes() == newer
    with pytest.raises(ProgressError, match="newer hvlab"):
        p.import_(path)


def test_export_and_import(tmp_path):
    path = tmp_path / "progress.toml"
    saved(path, "done", 1)
    out = tmp_path / "share.toml"
    Progress.open(path).export(out)
    other = Progress.open(tmp_path / "other.toml")
    assert other.import_(out) == 1
    assert Progress.open(tmp_path / "other.toml").lessons["tour"].status == "done"
    bad = tmp_path / "bad.toml"
    bad.write_text("not = [toml")
    with pytest.raises(ProgressError):
        other.import_(bad)
    assert Progress.open(tmp_path / "other.toml").lessons["tour"].status == "done"


SAVER = """
import sys
from pathlib import Path
from hvlab.lessons.progress import Progress
p = Progress.open(Path(sys.argv[1]))
n = 0
while True:
    n += 1
    e = p.get(f"lesson-{n % 7}")
    e.step, e.status = n % 5, ("new", "in-progress", "done")[n % 3]
    e.hints[n % 3] = n % 4
    print(n, flush=True)  # the next save is about to begin
    p.save()
"""


def test_sixty_kills_mid_save_leave_a_readable_file(tmp_path):
    # (a hundred took a fifteenth of make test on a busy host; each kill lands at a random
    # save of the twelve, so sixty still hit every one several times)
    path = tmp_path / "progress.toml"
    rng = random.Random(7)
    for i in range(60):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        # kill as the writer announces a save: its own signal, however busy the machine is
        # (the first writer only once a save has finished, so there is a file to find)
        target = rng.randint(2 if i == 0 else 1, 12)
        while int(proc.stdout.readline()) < target:
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        p = Progress.open(path)
        assert not any("no usable backup" in n for n in p.notices), p.notices
        assert path.exists()
        read_file(path)  # raises if unreadable
    # a save cut short leaves a temporary file; opening tidies those whose writer is gone
    assert not list(tmp_path.glob(".*.tmp"))
