"""Runs handed on between sessions, for `hvlab check` only.

The check replays lesson steps one after another in one process, and most of them run one of a
few specs: there, and only there, a built run is handed on to the next session that asks for the
same spec (rewound; a session never holds it twice). A TUI session keeps its runs to itself — it
may show one beside another — so CACHE stays None outside a check.
"""

from __future__ import annotations

import contextlib

CACHE: dict | None = None


@contextlib.contextmanager
def sharing_runs():
    """While it lasts, sessions hand built runs on; `hvlab check` uses it."""
    global CACHE
    before, CACHE = CACHE, {}
    try:
        yield
    finally:
        CACHE = before
