"""Reading one table of a lesson file with its types checked, and errors that name the file,
the line, and the field."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hvlab.userfiles import has_unsafe

# Markdown or prose: the fields that may break lines
MULTILINE = ("narration", "summary", "hints", "prompt", "explain", "wrong")


class LessonError(ValueError):
    """One line: file, line where known, and the problem."""


class TableReader:
    """Typed access to one table, with errors that name the file and the line."""

    def __init__(self, path: Path, text: str, where: str, table: dict, anchor: int) -> None:
        self.path, self.text, self.where, self.table, self.anchor = path, text, where, table, anchor

    def fail(self, problem: str, near: str | None = None) -> LessonError:
        line = self.line_of(near) if near else self.anchor
        at = f"{self.path}:{line}" if line else str(self.path)
        return LessonError(f"{at}: {self.where}{problem}")

    def line_of(self, needle: str) -> int:
        lines = self.text.splitlines()
        for i in range(max(0, self.anchor - 1), len(lines)):
            if needle in lines[i]:
                return i + 1
        for i, line in enumerate(lines):
            if needle in line:
                return i + 1
        return self.anchor

    def get(self, key: str, kind: type | tuple, required: bool = False, default: Any = None):
        if key not in self.table:
            if required:
                raise self.fail(f"missing field '{key}'")
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(
                f"'{key}' must be {_article(names)}, not {type(value).__name__}", f"{key}"
            )
        if isinstance(value, str):
            self.clean(key, value)
        return value

    def clean(self, key: str, value: str) -> None:
        """Text shown on the learner's terminal holds no control or bidi characters (only the
        line breaks and tabs of Markdown, and those not in one-line fields)."""
        one_line = key not in MULTILINE
        bad = [c for c in value if has_unsafe(c) and (one_line or c not in "\n\t")]
        if bad:
            raise self.fail(
                f"'{key}' holds the control character U+{ord(bad[0]):04X}; remove it", key
            )

    def strings(self, key: str, required: bool = False) -> tuple[str, ...]:
        values = self.get(key, list, required, [])
        for v in values:
            if not isinstance(v, str):
                raise self.fail(f"'{key}' must be a list of strings", key)
            self.clean(key, v)
        return tuple(values)

    def unknown(self, allowed: Iterable[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(f"unknown field '{key}' (valid: {', '.join(allowed)})", key)


def _article(name: str) -> str:
    return {"str": "a string", "int": "a whole number", "list": "a list", "dict": "a table"}.get(
        name, name
    )
