"""The machine: one store of state, the event log, and the guest memory access path."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from hvlab.model.core import canaries
from hvlab.model.core.events import EventKind, EventLog, Phase
from hvlab.model.core.layout import DEFAULT_LAYOUT, Layout
from hvlab.model.core.protections import Design, Protection
from hvlab.model.core.store import Store
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.hypervisor.constants import (
    CHILD_PRIVILEGES,
    PAGE_SIZE,
    ROOT_PRIVILEGES,
)
from hvlab.model.hypervisor.guest_memory import GuestMemory
from hvlab.model.hypervisor.memory import HYPERVISOR, ROOT
from hvlab.model.hypervisor.msrs import SyntheticMsrs
from hvlab.model.hypervisor.partitions import HV_PID, ROOT_PID, PartitionState, VpState

TOKEN_SIZE = 16
DISK_SECRET_LBA = 5


class ParentStack(Protocol):
    """What the hypervisor needs of the root's virtualization stack: an answer to each intercept
    it routes there (the VID is the root's side of it; port I/O it passes to the VM's worker)."""

    def handle_gpa_intercept(
        self, pid: int, gpn: int, entry, write: bool
    ) -> tuple[bool, str | None]: ...

    def handle_io_port_intercept(
        self, pid: int, port: int, data: bytes | None, size: int, detail: dict
    ) -> bytes | str: ...


class Machine(GuestMemory, SyntheticMsrs):
    """A Hyper-V style machine under one design, as the hypervisor runs it. Deterministic for a
    given seed. `model.system.Machine` is this with the root's stack attached."""

    RUNNING = VpState.RUNNING.value  # the VP state in which the engine runs a partition's actors

    def __init__(
        self,
        design: Design | None = None,
        seed: int = 0,
        layout: Layout = DEFAULT_LAYOUT,
        salts: dict[str, int] | None = None,
        state: dict | None = None,
    ):
        """`state`, when given, is a store snapshot to start from instead of power-on."""
        self.design = design or Design()
        self.seed = seed
        self.layout = layout
        self.salts = dict(salts or {})
        self.store = Store()
        self.events = EventLog()
        self.time = 0
        self.scope: str | None = None
        self.op = 0
        self.checkpoint_at = -1  # the step after which `checkpoint` is called; -1: never
        # Set by the lab layer: called (site, driver, context) for drivers installed at a site.
        self.site_handler: Callable | None = None
        self.slot_handler: Callable | None = None  # a learner's checks (core/slots.py)
        # Protection ids that plugins added; each is a defense consulted at its sites.
        self.defenses: tuple[str, ...] = ()
        # Canaries that plugins registered (planted with the lab's: plant_plugin_canaries).
        self.plugin_canaries: tuple = ()
        # The root's memory manager, which answers this machine's memory intercepts (it sits
        # above the hypervisor, so whoever assembles the machine attaches it: model.system).
        self.vid: ParentStack | None = None
        # What each engine operation does here, by its type (filled by model.system).
        self.executors: dict[type, Callable] = {}
        if state is not None:
            self.store = Store(state)
        else:
            self._power_on()
            self.store.take()
        self.initial = self.store.snapshot()

    # -- set-up -----------------------------------------------------------------------------
    def _power_on(self) -> None:
        st, lay = self.store, self.layout
        for pfn in lay.hv_code:
            st.set(("frame", pfn), (HYPERVISOR, "hv-code"))
        for pfn in lay.hv_data:
            st.set(("frame", pfn), (HYPERVISOR, "hv-data"))
        for pfn in lay.ram_frames:
            st.set(("frame", pfn), (ROOT, "ram"))
        pid = partitions.create(st, ROOT, None, PartitionState.ACTIVE, ROOT_PRIVILEGES, lay.frames)
        partitions.set_field(st, pid, "guest_os_id", 1)
        partitions.set_field(st, pid, "hypercall_page", lay.root_hypercall_page)
        st.set(("vp", pid, 0), VpState.RUNNING.value)
        for pfn in lay.ram_frames:
            memory.map_page(st, pid, pfn, pfn, "rwx")
        memory.write_phys(st, lay.root_hypercall_page * PAGE_SIZE, b"\x0f\x01\xc1\xc3")
        memory.set_rights(st, pid, lay.root_hypercall_page, "r-x")
        if not self.design.is_on(Protection.SEPARATE_ADDRESS_SPACES):
            # The counterfactual: the root's identity map covers the hypervisor too.
            for pfn in lay.hypervisor_frames:
                memory.map_page(st, pid, pfn, pfn, "rw-")

    def plant_lab_canaries(self) -> None:
        """The lab's first events: a hypervisor secret, the integrity of hypervisor code, and a
        secret block on guest B's virtual disk."""
        lay = self.layout
        token = self.new_token("hv-secret")
        secret_spa = lay.hv_data.start * PAGE_SIZE + 0x100
        memory.write_phys(self.store, secret_spa, token)
        self.register_secret(
            "hv-secret", token, (HYPERVISOR,), lay.hv_data.start, (HYPERVISOR,), spa=secret_spa
        )
        for pfn in lay.hv_code:
            canaries.plant_marker(self.store, pfn, "hv-code", ())
            memory.write_phys(self.store, pfn * PAGE_SIZE, b"\x0f\x01\xc1HVCODE" + bytes([pfn]))
        self.emit(
            EventKind.CANARY,
            "lab",
            "marker",
            path=(HYPERVISOR,),
            detail={"canary": "hv-code", "frames": (lay.hv_code.start, lay.hv_code.stop - 1)},
        )
        from hvlab.model.hardware import devices

        for child, lba, text in (("A", 3, b"A's files"), ("B", 3, b"B's files")):
            sector = devices.VIRTUAL_DISKS[child].first + lba
            devices.write_sector(self.store, sector, text.ljust(32, b"."))
        token = self.new_token("B-disk")
        sector = devices.VIRTUAL_DISKS["B"].first + DISK_SECRET_LBA
        devices.write_sector(self.store, sector, b"KEYS" + token)
        self.register_secret(
            "B-disk",
            token,
            ("B", ROOT, HYPERVISOR),
            -sector,
            ("hw.disk",),
            sector=sector,
            lba=DISK_SECRET_LBA,
        )
        self.plant_plugin_canaries()

    def plant_plugin_canaries(self) -> None:
        """The canaries plugins registered (`self.plugin_canaries`: records with name, where,
        gpa, readers, writers): a secret token at that GPA of the root's or the hypervisor's
        memory that only `readers` may read, or a marker on its frame only `writers` may write."""
        for c in self.plugin_canaries:
            pid = ROOT_PID if c.where == ROOT else HV_PID
            entry = self._translate(pid, c.gpa // PAGE_SIZE)
            if entry is None:
                continue  # refused when registered (see plugins); nothing to plant here
            pfn = entry[0]
            if c.readers is not None:
                token = self.new_token(c.name)
                spa = pfn * PAGE_SIZE + c.gpa % PAGE_SIZE
                memory.write_phys(self.store, spa, token)
                self.register_secret(
                    c.name, token, tuple(c.readers), pfn, (c.where,), spa=spa, plugin=c.plugin
                )
            if c.writers is not None:
                canaries.plant_marker(self.store, pfn, c.name, tuple(c.writers))
                self.emit(
                    EventKind.CANARY,
                    "lab",
                    "marker",
                    path=(c.where,),
                    detail={"canary": c.name, "frames": (pfn, pfn), "plugin": c.plugin},
                )

    def register_secret(
        self,
        name: str,
        token: bytes,
        entitled: tuple[str, ...],
        location: int,
        path: tuple[str, ...],
        writers: tuple[str, ...] | None = None,
        **where,
    ) -> None:
        """Tell the oracle about a secret already stored: who may read it, and the event that
        says the lab planted it. `location` is a frame, or minus a disk sector. With `writers`
        the frame also carries an integrity marker only they may write."""
        canaries.plant_secret(self.store, name, token, entitled, location)
        if writers is not None:
            canaries.plant_marker(self.store, location, name, writers)
        self.emit(
            EventKind.CANARY,
            "lab",
            "secret",
            path=path,
            detail={"canary": name, **where, "token": token.hex()},
        )

    def new_token(self, name: str) -> bytes:
        """A canary's secret bytes: fixed by the seed, the canary's name and its salt, so two
        runs can differ in one guest's secrets and nothing else."""
        rng = random.Random(f"hvlab-token:{self.seed}:{name}:{self.salts.get(name, 0)}")
        return rng.getrandbits(TOKEN_SIZE * 8).to_bytes(TOKEN_SIZE, "little") or b"\x01"

    # -- events -----------------------------------------------------------------------------
    def emit(
        self,
        kind: EventKind,
        actor: str,
        name: str,
        *,
        phase: Phase = Phase.NONE,
        status=None,
        protection: str | None = None,
        path: tuple[str, ...] = (),
        detail: dict[str, Any] | None = None,
        cost: int = 1,
    ) -> int:
        """Record one event with the store changes made since the last one; returns its step."""
        self.time += cost
        pending = self.store.pending
        if pending:
            changes = tuple(pending)
            pending.clear()
        else:
            changes = ()
        step = self.events.record(
            self.time, self.op, actor, kind, name, phase, status, protection, path,
            tuple(detail.items()) if detail else (), self.scope, changes,
        )  # fmt: skip
        if step == self.checkpoint_at:
            self.checkpoint(step)
        return step

    def checkpoint(self, step: int) -> None:
        """Called after event `checkpoint_at` (the lab sets both to keep snapshots)."""

    def stop_sharing(self) -> None:
        """The run is recorded: the event log drops the table that found equal events."""
        self.events.seal()

    # -- lookups ----------------------------------------------------------------------------
    def name(self, pid: int) -> str:
        if pid == HV_PID:
            return HYPERVISOR
        return self.store.get(("part", pid, "name")) or f"partition-{pid}"

    def pid(self, name: str) -> int:
        pid = partitions.pid_of(self.store, name)
        if pid is None:
            raise KeyError(f"no partition named {name!r}")
        return pid

    def principal(self, pid: int, actor: str | None) -> str:
        """Whom the oracle holds responsible for an access: the partition, except for a driver
        loaded into it (an actor named `PARTITION.driver:NAME`), which is a principal of its
        own — it runs with the partition's power but is not entitled to its secrets."""
        name = self.name(pid)
        if actor and actor.startswith(name) and actor.startswith(".driver:", len(name)):
            return actor
        return name

    def on(self, protection: str) -> bool:
        return self.design.is_on(protection)

    # -- partitions created by the root ------------------------------------------------------
    def new_child(self, name: str, parent: int, gpa_pages: int) -> int:
        return partitions.create(
            self.store, name, parent, PartitionState.CREATED, CHILD_PRIVILEGES, gpa_pages
        )
