"""The learner's progress: one TOML file in the user data directory, never lost.

Saving writes a temporary file, fsyncs it and renames it over the old one, after copying the
old one to `progress.toml.bak` the same way, so a crash at any instant leaves a readable file
(the new one, or the old one, or at worst the backup). A file that cannot be read is moved aside
— never deleted — and the backup restored; a file written by a newer hvlab is opened read-only;
a file that exists but cannot be opened right now (permissions) is reported and left alone.

Several hvlab processes may share one data directory (two terminals, a lab and `hvlab progress
import`). Each save takes an advisory lock on `progress.toml.lock`, re-reads the file, applies
only what *this* process changed since it last read it — lesson by lesson, field by field — and
writes the result, so no process's progress overwrites another's.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from hvlab.userfiles import (
    InputFileError,
    UnreadableFileError,
    read_toml,
    reason,
    shown,
    write_atomically,
)

SCHEMA_VERSION = 1
STATUSES = ("new", "in-progress", "done")
LESSON_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")  # as lesson files' ids (schema.ID)
STEP_KEY = re.compile(r"[0-9]{1,3}")
MAX_STEP = 999  # step numbers are indices into a lesson's steps
MAX_HINTS = 4  # a step has at most four hints
MAX_CHOICE = 8  # a prediction has at most nine choices
STALE_TEMP_SECONDS = 3600


class ProgressError(ValueError):
    """A progress file that cannot be used, or a save that failed; one line for the learner."""


class ProgressUnavailable(ProgressError):
    """The file is there but cannot be opened now (permissions): not damaged, not set aside."""


def default_path() -> Path:
    override = os.environ.get("HVLAB_DATA_DIR")
    if override:
        return Path(override) / "progress.toml"
    from platformdirs import user_data_dir

    return Path(user_data_dir("hvlab", appauthor=False)) / "progress.toml"


@dataclass
class LessonProgress:
    status: str = "new"
    step: int = 0
    hints: dict[int, int] = field(default_factory=dict)  # step → hints shown
    predictions: dict[int, int] = field(default_factory=dict)  # step → choice committed

    def to_toml(self) -> dict:
        return {
            "status": self.status,
            "step": self.step,
            "hints": {str(k): v for k, v in sorted(self.hints.items())},
            "predictions": {str(k): v for k, v in sorted(self.predictions.items())},
        }


# -- the schema: one checker for every progress document, read or imported ---------------------
def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse(doc: dict, *, strict: bool = True) -> dict[str, LessonProgress]:
    """Check a progress document; raises ProgressError naming the first bad field.

    `strict=False` reads a newer hvlab's file: fields this version does not know are skipped,
    since they may well be valid there."""
    version = doc.get("schema_version")
    if not _whole(version, 1, 2**31):
        raise ProgressError("schema_version must be a whole number ≥ 1")
    if strict:
        extra = sorted(set(doc) - {"schema_version", "lessons"})
        if extra:
            raise ProgressError(f"unknown field '{extra[0]}'")
    lessons = doc.get("lessons", {})
    if not isinstance(lessons, dict):
        raise ProgressError("'lessons' must be a table")
    out = {}
    for lesson_id, entry in lessons.items():
        try:
            out[lesson_id] = _entry(lesson_id, entry, strict)
        except ProgressError:
            if strict:
                raise  # a newer hvlab's entry may be valid there: it is only not shown here
    return out


def _entry(lesson_id, entry, strict: bool) -> LessonProgress:
    if not LESSON_ID.fullmatch(lesson_id):
        raise ProgressError(
            f"lesson id {shown(repr(lesson_id), 60)} is not lowercase letters, digits and dashes"
        )
    where = f"lessons.{lesson_id}"
    if not isinstance(entry, dict):
        raise ProgressError(f"{where} must be a table")
    if strict:
        extra = sorted(set(entry) - {"status", "step", "hints", "predictions"})
        if extra:
            raise ProgressError(f"{where}: unknown field '{shown(extra[0], 40)}'")
    status, step = entry.get("status", "new"), entry.get("step", 0)
    if status not in STATUSES:
        raise ProgressError(f"{where}.status must be one of {', '.join(STATUSES)}")
    if not _whole(step, 0, MAX_STEP):
        raise ProgressError(f"{where}.step must be a whole number from 0 to {MAX_STEP}")
    maps = {}
    for name, high in (("hints", MAX_HINTS), ("predictions", MAX_CHOICE)):
        table = entry.get(name, {})
        if not isinstance(table, dict) or not all(
            STEP_KEY.fullmatch(k) and _whole(v, 0, high) for k, v in table.items()
        ):
            raise ProgressError(
                f"{where}.{name} must map step numbers to whole numbers from 0 to {high}"
            )
        maps[name] = {int(k): v for k, v in table.items()}
    return LessonProgress(status, step, maps["hints"], maps["predictions"])


def read_file(path: Path) -> tuple[int, dict[str, LessonProgress]]:
    """(schema_version, lessons); ProgressUnavailable when the file cannot be opened now,
    ProgressError when it is damaged or invalid."""
    try:
        doc = read_toml(path, "progress file")
    except UnreadableFileError as exc:
        raise ProgressUnavailable(str(exc)) from None
    except InputFileError as exc:
        raise ProgressError(str(exc)) from None
    version = doc.get("schema_version")
    lessons = parse(doc, strict=not (_whole(version, 1, 2**31) and version > SCHEMA_VERSION))
    return version, lessons


# -- files -------------------------------------------------------------------------------------
def _writer_gone(tmp: Path) -> bool:
    parts = tmp.name.rsplit(".", 2)  # .progress.toml.PID.tmp
    try:
        if time.time() - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
            return True
    except OSError:
        return False
    if len(parts) != 3 or not parts[1].isascii() or not parts[1].isdigit():
        return False  # not ours to judge; it ages out
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, someone else's
    return False


@contextlib.contextmanager
def _locked(path: Path):
    """Hold the advisory lock that orders saves to `path` between processes."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _merge(
    disk: dict[str, LessonProgress],
    base: dict[str, LessonProgress],
    mine: dict[str, LessonProgress],
) -> dict[str, LessonProgress]:
    """`disk` with what changed from `base` to `mine` applied: a lesson removed here (a reset)
    is removed, a field changed here takes this process's value, the rest stays as on disk."""
    out = copy.deepcopy(disk)
    for lesson_id in base.keys() - mine.keys():
        out.pop(lesson_id, None)
    for lesson_id, now in mine.items():
        was = base.get(lesson_id)
        if was == now:
            continue
        if was is None or lesson_id not in out:
            was = was or LessonProgress()
            target = out.setdefault(lesson_id, LessonProgress())
        else:
            target = out[lesson_id]
        if now.status != was.status:
            target.status = now.status
        if now.step != was.step:
            target.step = now.step
        for name in ("hints", "predictions"):
            theirs, before, after = getattr(target, name), getattr(was, name), getattr(now, name)
            for k in before.keys() - after.keys():
                theirs.pop(k, None)
            for k, v in after.items():
                if before.get(k) != v:
                    theirs[k] = v
    return out


STUDENT = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
SERVED_IN_MEMORY = (
    "Progress in this browser session is kept in memory only: it is gone when the page "
    "closes (hvlab serve --progress-dir DIR keeps each student's)."
)


def student_name(text: str) -> str:
    """A student's name as a served session keys their progress file by; ValueError, one line,
    when it is not 1–40 letters, digits and dashes."""
    name = text.strip().lower()
    if not STUDENT.fullmatch(name):
        raise ValueError(
            f"{shown(repr(text.strip()), 50)} is not a name of 1 to 40 letters, digits and "
            "dashes (e.g. ada-l)"
        )
    return name


class Progress:
    """Load with `Progress.open(path)`; `notices` says what was repaired, `read_only` whether
    saving is off (a newer hvlab's file, a file or folder that cannot be written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lessons: dict[str, LessonProgress] = {}
        self.notices: list[str] = []
        self.read_only = False
        self.note = ""  # where this progress is kept, for the start screen (a served session)
        self._base: dict[
            str, LessonProgress
        ] = {}  # the lessons as last read from or written to disk
        self._replace = False  # the next save writes these lessons as they are (an import)

    @classmethod
    def in_memory(cls, note: str = "") -> Progress:
        """Progress that is never written (a lab opened on a run, a browser session, tests)."""
        self = cls(Path("progress.toml"))
        self.read_only = True
        self.note = note
        return self

    @classmethod
    def of_student(cls, folder: Path, name: str) -> Progress:
        """A served session's own progress: FOLDER/NAME.toml, `name` checked by student_name."""
        name = student_name(name)
        self = cls.open(folder / f"{name}.toml")
        self.note = f"Progress of '{name}', kept in {shown(folder)} on the teacher's machine."
        return self

    @property
    def backup(self) -> Path:
        return self.path.with_name(self.path.name + ".bak")

    @classmethod
    def open(cls, path: Path | None = None) -> Progress:
        self = cls(path or default_path())
        with contextlib.suppress(OSError):
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                if _writer_gone(stale):  # a save cut short; the real files are whole
                    stale.unlink(missing_ok=True)
        try:
            self.lessons = self._load()
        except ProgressUnavailable as exc:
            self.read_only = True
            self.notices.append(f"{exc}; progress is shown but not saved this session")
        self._base = copy.deepcopy(self.lessons)
        return self

    def _load(self) -> dict[str, LessonProgress]:
        """The lessons on disk, mending what can be mended (and saying so in `notices`)."""
        try:
            exists = self.path.exists()
        except OSError as exc:
            raise ProgressUnavailable(f"{shown(self.path)}: cannot read: {reason(exc)}") from None
        if not exists:
            return self._restore("the progress file was missing") if self.backup.exists() else {}
        try:
            version, lessons = read_file(self.path)
        except ProgressUnavailable:
            raise
        except ProgressError as exc:
            name = shown(self.path)
            broken = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
            aside = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, aside)
            except OSError as move:
                self.read_only = True
                self.notices.append(
                    f"{broken}; it could not be moved aside ({reason(move)}), so progress is "
                    "not saved this session"
                )
                return {}
            return self._restore(f"{broken}; it was moved to {shown(aside)}")
        if version > SCHEMA_VERSION:
            self.read_only = True
            self.notices.append(
                f"{shown(self.path)} was written by a newer hvlab (schema {version}); "
                "progress is shown but not saved"
            )
        return lessons

    def _restore(self, why: str) -> dict[str, LessonProgress]:
        try:
            version, lessons = read_file(self.backup)
        except ProgressError:
            self.notices.append(f"{why}; no usable backup, starting afresh")
            return {}
        self.read_only = self.read_only or version > SCHEMA_VERSION
        try:
            write_atomically(self.path, self.backup.read_bytes())
        except OSError as exc:
            self.read_only = True
            self.notices.append(f"{why}; the backup could not be restored ({reason(exc)})")
            return lessons
        self.notices.append(f"{why}; restored the backup {shown(self.backup)}")
        return lessons

    def get(self, lesson_id: str) -> LessonProgress:
        return self.lessons.setdefault(lesson_id, LessonProgress())

    def status(self, lesson_id: str) -> str:
        return self.lessons.get(lesson_id, LessonProgress()).status

    def first_unfinished(self, lessons):
        """The first of `lessons` not done yet (None: all done): where the course resumes."""
        return next((x for x in lessons if self.status(x.id) != "done"), None)

    def to_bytes(self, lessons: dict[str, LessonProgress] | None = None) -> bytes:
        lessons = self.lessons if lessons is None else lessons
        doc = {
            "schema_version": SCHEMA_VERSION,
            "lessons": {k: v.to_toml() for k, v in sorted(lessons.items())},
        }
        return tomli_w.dumps(doc).encode()

    def save(self) -> None:
        """Merge this process's changes into the file on disk, under the lock. Raises
        ProgressError (one line) when the file cannot be written; nothing on disk is lost."""
        if self.read_only:
            return
        try:
            with _locked(self.path):
                disk = self._load()
                if self.read_only:  # the file on disk turned out to be a newer hvlab's
                    return
                merged = (
                    copy.deepcopy(self.lessons)
                    if self._replace
                    else _merge(disk, self._base, self.lessons)
                )
                if disk or self.path.exists():
                    write_atomically(self.backup, self.to_bytes(disk))
                write_atomically(self.path, self.to_bytes(merged))
        except OSError as exc:
            raise ProgressError(f"progress not saved: {shown(self.path)}: {reason(exc)}") from None
        self._replace = False
        self._base = copy.deepcopy(merged)
        self.lessons.clear()
        self.lessons.update(copy.deepcopy(merged))

    def reset(self, lesson_id: str | None = None) -> None:
        if lesson_id is None:
            self.lessons.clear()
        else:
            self.lessons.pop(lesson_id, None)
        self.save()

    def export(self, target: Path) -> None:
        """Write the progress to `target`, which must be a regular file or not exist yet."""
        write_atomically(target, self.to_bytes())

    def import_(self, source: Path) -> int:
        """Replace progress with a file's (checked first); returns the number of lessons."""
        version, lessons = read_file(source)
        if version > SCHEMA_VERSION:
            raise ProgressError(f"written by a newer hvlab (schema {version}); upgrade hvlab")
        if self.read_only:
            raise ProgressError(f"{shown(self.path)} cannot be written now; not importing")
        self.lessons = lessons
        self._replace = True
        self.save()
        return len(lessons)
