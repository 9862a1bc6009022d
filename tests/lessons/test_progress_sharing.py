"""Progress shared by several processes, checked by one schema, and never replaced by accident:
concurrent saves merge, a live writer's temporary file survives another's start-up, any value
in the file either loads or is set aside, and export never writes over a special file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from hvlab.lessons.progress import Progress, ProgressError, read_file

from ..unprivileged import run_hvlab, world_dir

WRITER = """
import sys
from pathlib import Path
from hvlab.lessons.progress import Progress
path, me, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
p = Progress.open(path)
print("ready", flush=True)
sys.stdin.readline()  # both writers start together
for n in range(rounds):
    p.get(f"{me}-{n}").status = "done"          # a lesson only this writer records
    shared = p.get("shared")                     # and one both record, in different fields
    (shared.hints if me == "one" else shared.predictions)[n] = 1 if me == "one" else 0
    p.save()
"""


def test_two_processes_saving_at_once_keep_each_others_progress(tmp_path):
    path, rounds = tmp_path / "progress.toml", 40
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), me, str(rounds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for me in ("one", "two")
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(120) == 0
    _, lessons = read_file(path)
    for me in ("one", "two"):
        assert all(lessons[f"{me}-{n}"].status == "done" for n in range(rounds)), me
    assert lessons["shared"].hints == dict.fromkeys(range(rounds), 1)
    assert lessons["shared"].predictions == dict.fromkeys(range(rounds), 0)


def test_a_save_applies_only_this_sessions_changes(tmp_path):
    path = tmp_path / "progress.toml"
    first, second = Progress.open(path), Progress.open(path)
    first.get("tour").status = "done"
    first.get("tour").hints[0] = 2
    first.save()
    second.get("tour").step = 3  # second never saw 'done' and must not undo it
    second.get("other").status = "in-progress"
    second.save()
    _, lessons = read_file(path)
    assert (lessons["tour"].status, lessons["tour"].step, lessons["tour"].hints) == (
        "done",
        3,
        {0: 2},
    )
    assert lessons["other"].status == "in-progress"
    assert second.lessons["tour"].status == "done"  # a save brings in the others' progress
    first.reset("tour")
    second.get("other").step = 1
    second.save()
    assert "tour" not in read_file(path)[1]  # a reset elsewhere stays a reset


def test_start_up_tidies_only_temporary_files_whose_writer_is_gone(tmp_path):
    path = tmp_path / "progress.toml"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = tmp_path / f".progress.toml.{os.getpid()}.tmp"
    gone = tmp_path / f".progress.toml.{dead.pid}.tmp"
    old = tmp_path / ".progress.toml.not-a-pid.tmp"
    for f in (live, gone, old):
        f.write_bytes(b"half a save")
    hour_ago = time.time() - 2 * 3600
    os.utime(old, (hour_ago, hour_ago))
    Progress.open(path)
    assert live.exists() and not gone.exists() and not old.exists()


DEEP = "[" * 3000 + "]" * 3000
BAD_VALUES = {
    "deep-array": f"schema_version = 1\n[lessons.tour]\nstep = {DEEP}\n",
    "superscript-hint-key": 'schema_version = 1\n[lessons.tour.hints]\n"²" = 1\n',
    "negative-hints": 'schema_version = 1\n[lessons.tour.hints]\n"0" = -1\n',
    "huge-hints": 'schema_version = 1\n[lessons.tour.hints]\n"0" = 99999999999\n',
    "huge-step": "schema_version = 1\n[lessons.tour]\nstep = 123456789\n",
    "negative-version": "schema_version = -5\n",
    "escape-in-id": 'schema_version = 1\n[lessons."tour\\u001b[2J"]\nstep = 0\n',
    "unknown-field": "schema_version = 1\n[lessons.tour]\nstars = 3\n",
    "prediction-out-of-range": 'schema_version = 1\n[lessons.tour.predictions]\n"0" = 40\n',
}


@pytest.mark.parametrize("content", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_an_invalid_value_is_set_aside_and_the_backup_restored(tmp_path, content):
    path = tmp_path / "progress.toml"
    good = Progress.open(path)
    good.get("tour").status = "done"
    good.save()
    good.save()  # the backup now holds 'done' too
    path.write_text(content)
    p = Progress.open(path)
    assert p.lessons["tour"].status == "done", p.notices
    (notice,) = p.notices
    assert "moved to" in notice and "restored the backup" in notice
    assert "\x1b" not in notice  # named, not replayed to the terminal
    assert [f.read_text() for f in tmp_path.iterdir() if ".broken-" in f.name] == [content]


def test_the_same_schema_checks_an_import(tmp_path):
    p = Progress.open(tmp_path / "progress.toml")
    for name, content in BAD_VALUES.items():
        source = tmp_path / f"{name}.toml"
        source.write_text(content)
        with pytest.raises(ProgressError):
            p.import_(source)
    assert not (tmp_path / "progress.toml").exists()  # nothing was written


toml_leaf = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(max_size=8),
    st.floats(allow_nan=False),
)
toml_value = st.recursive(
    toml_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    ["schema_version", "lessons", "status", "step", "hints", "predictions", "0", "tour"]
)
progress_like = st.fixed_dictionaries(
    {"schema_version": st.one_of(st.just(1), toml_value)},
    optional={
        "lessons": st.dictionaries(
            st.one_of(st.just("tour"), st.text(max_size=6)),
            st.one_of(
                st.dictionaries(keys, st.one_of(toml_value, st.dictionaries(keys, toml_value))),
                toml_value,
            ),
            max_size=3,
        )
    },
)


@given(doc=progress_like)
def test_any_toml_document_loads_or_is_set_aside(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "progress.toml"
    path.write_text(tomli_w.dumps(doc))
    p = Progress.open(path)  # never raises
    set_aside = any(".broken-" in f.name for f in folder.iterdir())
    assert set_aside == any("moved to" in n for n in p.notices)
    if not set_aside:  # it loaded: as it reads, or (a newer hvlab's) read-only
        assert read_file(path)[1] == p.lessons
        assert p.read_only == (doc["schema_version"] != 1)


def test_export_refuses_what_is_not_a_regular_file(tmp_path):
    p = Progress.open(tmp_path / "progress.toml")
    p.get("tour").status = "done"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (tmp_path, fifo, "/dev/full", "/dev/null"):
        before = os.stat(target).st_mode
        with pytest.raises(OSError, match="not a regular file"):
            p.export(type(tmp_path)(target))
        assert os.stat(target).st_mode == before  # still what it was
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    p.export(tmp_path / "share.toml")
    assert read_file(tmp_path / "share.toml")[1]["tour"].status == "done"


def test_the_export_command_cleans_up_and_says_one_line(tmp_path):
    env = {**os.environ, "HVLAB_DATA_DIR": str(tmp_path / "data")}
    for target in ("/dev/full", str(tmp_path)):
        done = subprocess.run(
            [sys.executable, "-m", "hvlab", "progress", "export", target],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 2 and done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and target in done.stderr
        assert "not a regular file" in done.stderr
    assert os.stat("/dev/full").st_rdev != 0
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]


def test_an_unreadable_file_is_reported_not_set_aside():
    folder = world_dir()
    path = folder / "progress.toml"
    path.write_text('schema_version = 1\n[lessons.tour]\nstatus = "done"\n')
    path.chmod(0o000)
    done = run_hvlab(["progress", "show"], data_dir=folder)
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert "cannot read" in line and "Permission denied" in line and "not saved" in line
    path.chmod(0o644)
    assert not [f for f in folder.iterdir() if ".broken-" in f.name]
    assert read_file(path)[1]["tour"].status == "done"


def test_a_broken_file_in_a_read_only_folder_is_one_line():
    folder = world_dir()
    (folder / "progress.toml").write_text("not toml [")
    folder.chmod(0o555)
    try:
        done = run_hvlab(["progress", "show"], data_dir=folder)
    finally:
        folder.chmod(0o777)
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert "invalid TOML" in line and "could not be moved aside" in line
    assert (folder / "progress.toml").read_text() == "not toml ["
