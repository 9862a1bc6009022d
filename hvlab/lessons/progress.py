"""The learner's progress: one TOML file in the user data directory, never lost.

Saving writes a temporary file, fsyncs it and renames it over the old one, after copying the
old one to `progress.toml.bak` the same way, so a crash at any instant leaves a readable file
(the new one, or the old one, or at worst the backup). A file that cannot be read is moved aside
— never deleted — and the backup restored; a file written by a newer hvlab is opened read-only.
"""

from __future__ import annotations

import os
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

SCHEMA_VERSION = 1
STATUSES = ("new", "in-progress", "done")


class ProgressError(ValueError):
    """A progress file that cannot be used; one line for the learner."""


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
            "hints": {str(k): v for k, v in self.hints.items()},
            "predictions": {str(k): v for k, v in self.predictions.items()},
        }


def parse(doc: dict) -> dict[str, LessonProgress]:
    """Check a progress document's shape; raises ProgressError naming the bad field."""
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProgressError("missing or non-integer schema_version")
    lessons = doc.get("lessons", {})
    if not isinstance(lessons, dict):
        raise ProgressError("'lessons' must be a table")
    out = {}
    for lesson_id, entry in lessons.items():
        if not isinstance(entry, dict):
            raise ProgressError(f"lessons.{lesson_id} must be a table")
        status, step = entry.get("status", "new"), entry.get("step", 0)
        if status not in STATUSES:
            raise ProgressError(f"lessons.{lesson_id}.status must be one of {', '.join(STATUSES)}")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ProgressError(f"lessons.{lesson_id}.step must be a whole number ≥ 0")
        maps = {}
        for name in ("hints", "predictions"):
            table = entry.get(name, {})
            if not isinstance(table, dict) or not all(
                k.isdigit() and isinstance(v, int) and not isinstance(v, bool)
                for k, v in table.items()
            ):
                raise ProgressError(f"lessons.{lesson_id}.{name} must map step numbers to numbers")
            maps[name] = {int(k): v for k, v in table.items()}
        out[lesson_id] = LessonProgress(status, step, maps["hints"], maps["predictions"])
    return out


def read_file(path: Path) -> tuple[int, dict[str, LessonProgress]]:
    """(schema_version, lessons); raises ProgressError on anything unreadable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProgressError(f"cannot read: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProgressError("not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProgressError(f"not valid TOML ({exc})") from None
    lessons = parse(doc)
    return doc["schema_version"], lessons


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Progress:
    """Load with `Progress.open(path)`; `notices` says what was repaired, `read_only` whether
    saving is off (a newer hvlab's file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lessons: dict[str, LessonProgress] = {}
        self.notices: list[str] = []
        self.read_only = False

    @classmethod
    def in_memory(cls) -> Progress:
        """Progress that is never written (a lab opened on a run, tests)."""
        self = cls(Path("progress.toml"))
        self.read_only = True
        return self

    @property
    def backup(self) -> Path:
        return self.path.with_name(self.path.name + ".bak")

    @classmethod
    def open(cls, path: Path | None = None) -> Progress:
        self = cls(path or default_path())
        for stale in self.path.parent.glob(f".{self.path.name}*.tmp"):
            stale.unlink(missing_ok=True)  # a save that was cut short; the real files are whole
        if not self.path.exists():
            if self.backup.exists():
                self._restore("the progress file was missing")
            return self
        try:
            version, lessons = read_file(self.path)
        except ProgressError as exc:
            aside = self.path.with_name(f"{self.path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(self.path, aside)
            self._restore(f"{self.path} could not be read ({exc}); it was moved to {aside}")
            return self
        self.lessons = lessons
        if version > SCHEMA_VERSION:
            self.read_only = True
            self.notices.append(
                f"{self.path} was written by a newer hvlab (schema {version}); "
                "progress is shown but not saved"
            )
        return self

    def _restore(self, why: str) -> None:
        try:
            version, lessons = read_file(self.backup)
        except ProgressError:
            self.notices.append(f"{why}; no usable backup, starting afresh")
            return
        self.lessons = lessons
        self.read_only = version > SCHEMA_VERSION
        shutil.copyfile(self.backup, self.path)
        self.notices.append(f"{why}; restored the backup {self.backup}")

    def get(self, lesson_id: str) -> LessonProgress:
        return self.lessons.setdefault(lesson_id, LessonProgress())

    def status(self, lesson_id: str) -> str:
        return self.lessons.get(lesson_id, LessonProgress()).status

    def to_bytes(self) -> bytes:
        doc = {
            "schema_version": SCHEMA_VERSION,
            "lessons": {k: v.to_toml() for k, v in sorted(self.lessons.items())},
        }
        return tomli_w.dumps(doc).encode()

    def save(self) -> None:
        if self.read_only:
            return
        if self.path.exists():
            try:
                read_file(self.path)
            except ProgressError:
                pass  # never let a bad file replace a good backup
            else:
                write_atomically(self.backup, self.path.read_bytes())
        write_atomically(self.path, self.to_bytes())

    def reset(self, lesson_id: str | None = None) -> None:
        if lesson_id is None:
            self.lessons.clear()
        else:
            self.lessons.pop(lesson_id, None)
        self.save()

    def export(self, target: Path) -> None:
        write_atomically(target, self.to_bytes())

    def import_(self, source: Path) -> int:
        """Replace progress with a file's (checked first); returns the number of lessons."""
        version, lessons = read_file(source)
        if version > SCHEMA_VERSION:
            raise ProgressError(f"written by a newer hvlab (schema {version}); upgrade hvlab")
        if self.read_only:
            raise ProgressError(f"{self.path} belongs to a newer hvlab; not overwriting it")
        self.lessons = lessons
        self.save()
        return len(lessons)
