from __future__ import annotations

import pytest

from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec, Session
from hvlab.tui.app import HvlabApp


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue([], echo=False)


class Recorder:
    """Collects the messages the app posts (Harlequin's way: assert on messages, not pixels)."""

    def __init__(self) -> None:
        self.messages = []

    def __call__(self, message) -> None:
        self.messages.append(message)

    def of(self, kind) -> list:
        """Each message once (the hook sees a message again at every node it bubbles to)."""
        unique = {id(m): m for m in self.messages if isinstance(m, kind)}
        return list(unique.values())


@pytest.fixture
def recorder():
    return Recorder()


def lab_app(catalogue, *, narrate: bool = False, **spec) -> HvlabApp:
    return HvlabApp(catalogue, Session(RunSpec(**spec), catalogue), narrate=narrate)
