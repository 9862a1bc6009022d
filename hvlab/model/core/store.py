"""The model's single store of mutable state, recording every change.

All machine state lives here as `key -> value` with tuple keys and immutable, JSON-friendly
values (ints, strings, tuples of them). Every `set` is recorded; the engine attaches the recorded
changes to the event that made them, so any step can be undone or redone exactly. Plugin state
(later) lives here too, which is what lets time travel cover it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

Key = tuple
Change = tuple[Key, Any, Any]  # (key, old, new); None means "absent"


class Store:
    __slots__ = ("data", "get", "pending", "watched", "woken")

    def __init__(self, data: dict | None = None) -> None:
        self.data: dict[Key, Any] = dict(data) if data else {}
        self.pending: list[Change] = []
        # Keys someone waits on (the engine's waiting actors), and those of them set since the
        # engine last looked: so a wake-up condition is asked again only when it may have changed.
        self.watched: set[Key] = set()
        self.woken: list[Key] = []
        # get(key, default=None): the dict's own method, as the model reads far more than it
        # writes (a dozen reads an event) and a Python-level wrapper doubles a read's cost.
        self.get = self.data.get

    def set(self, key: Key, value: Any) -> None:
        """Set (or with None, delete) a value, recording the change."""
        data = self.data
        old = data.get(key)
        if old == value:
            return
        self.pending.append((key, old, value))
        if key in self.watched:
            self.woken.append(key)
        if value is None:
            del data[key]
        else:
            data[key] = value

    def take(self) -> tuple[Change, ...]:
        """The changes since the last call, which then start afresh."""
        if not self.pending:
            return ()
        out = tuple(self.pending)
        self.pending.clear()
        return out

    def discard_to(self, mark: int) -> None:
        """Roll back pending changes past `mark` (a length of `pending`)."""
        while len(self.pending) > mark:
            key, old, _new = self.pending.pop()
            if old is None:
                self.data.pop(key, None)
            else:
                self.data[key] = old

    def apply(self, changes: Iterable[Change]) -> None:
        data = self.data
        for key, _old, new in changes:
            if new is None:
                data.pop(key, None)
            else:
                data[key] = new

    def revert(self, changes: Iterable[Change]) -> None:
        data = self.data
        for key, old, _new in reversed(tuple(changes)):
            if old is None:
                data.pop(key, None)
            else:
                data[key] = old

    def snapshot(self) -> dict[Key, Any]:
        return dict(self.data)

    def digest(self) -> str:
        return state_digest(self.data)


def state_digest(data: dict[Key, Any]) -> str:
    h = hashlib.sha256()
    for key in sorted(data, key=repr):
        h.update(repr((key, data[key])).encode())
    return h.hexdigest()
