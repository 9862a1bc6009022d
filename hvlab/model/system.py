"""The whole machine, assembled: the hypervisor's machine with the root's virtualization stack
attached to answer its intercepts, and every engine operation mapped to the layer it acts on.

This module sits above every layer of the model (it is the only one that knows them all); the
lab, the matrix, the fuzzer and the tests build machines from here.
"""

from __future__ import annotations

from typing import Any

from hvlab.model.core.engine import InjectDriver, LoadDriver
from hvlab.model.hypervisor import machine, operations
from hvlab.model.root.drivers import inject_driver, load_driver
from hvlab.model.root.vid import RootVid

EXECUTORS: dict[type, Any] = {
    **operations.EXECUTORS,
    LoadDriver: lambda m, actor, op: load_driver(m, actor.name, op.name, op.where),
    InjectDriver: lambda m, actor, op: inject_driver(m, actor.name, op.name),
}


class Machine(machine.Machine):
    """A Hyper-V style machine under one design, with its root partition's stack: what every
    run of the lab runs on. Deterministic for a given seed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.vid = RootVid(self)
        self.executors = EXECUTORS
