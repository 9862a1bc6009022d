"""Shared set-up for model tests: a machine booted by the real `boot` workload, cheaply cloned."""

from __future__ import annotations

from functools import cache

from hvlab.model import engine
from hvlab.model.hv import PAGE_SIZE
from hvlab.model.hypercalls import HypercallResult, hypercall
from hvlab.model.machine import Machine
from hvlab.model.protections import Design
from hvlab.model.store import Store
from hvlab.model.workloads import WORKLOADS


@cache
def _booted_state(off: frozenset[str]) -> dict:
    m = Machine(Design(off), seed=0)
    engine.run(m, WORKLOADS["boot"].build(m), 0)
    return m.store.snapshot()


def booted(*off: str) -> Machine:
    """A fresh machine in the state the boot workload leaves, under the design with `off` off."""
    m = Machine(Design(frozenset(off)), seed=0)
    m.store = Store(_booted_state(frozenset(off)))
    return m


def place(m: Machine, pid: int, gpa: int, data: bytes) -> None:
    """Put `data` in a partition's memory as its kernel would, without events or checks."""
    from hvlab.model import memory

    entry = m.store.get(("slat", pid, gpa // PAGE_SIZE))
    if data and entry is not None:
        memory.write_phys(m.store, entry[0] * PAGE_SIZE + gpa % PAGE_SIZE, data)
    m.store.take()


def issue(
    m: Machine, pid: int, value: int, in_gpa: int, out_gpa: int, data: bytes = b""
) -> HypercallResult:
    """Place `data` at `in_gpa`, then call."""
    place(m, pid, in_gpa, data)
    return hypercall(m, pid, value, in_gpa, out_gpa)
