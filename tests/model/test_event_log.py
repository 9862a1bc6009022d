"""The compact event log reads back exactly the events that were recorded."""

from __future__ import annotations

import pytest

from hvlab.lab import Lab
from hvlab.model.core.events import Event, EventKind, EventLog


def test_reads_back_what_was_recorded_by_index_slice_and_iteration():
    lab = Lab("ping")
    log = lab.events
    assert isinstance(log, EventLog)
    events = list(log)
    assert [ev.step for ev in events] == list(range(len(log)))
    assert log[-1] == events[-1] and log[0] == events[0]
    assert log[10:20] == events[10:20] and log[::100] == events[::100]
    assert all(log.changes(i) == ev.changes for i, ev in enumerate(events))
    assert log == events and log != events[:-1]
    with pytest.raises(IndexError):
        log[len(log)]


def test_equal_events_share_one_shape():
    lab = Lab("busy", params={"iterations": 200})
    shapes = {id(s) for s in lab.events._shape}
    assert len(shapes) < len(lab.events) // 2  # a loop repeats most of its shapes


def test_events_must_arrive_in_order():
    log = EventLog()
    log.append(Event(0, 1, "lab", EventKind.CANARY, "secret"))
    with pytest.raises(ValueError, match="event 5 appended as number 1"):
        log.append(Event(5, 2, "lab", EventKind.CANARY, "secret"))
