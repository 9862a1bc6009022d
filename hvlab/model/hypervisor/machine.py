"""The machine: one store of state, the event log, and the guest memory access path."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from hvlab.model.core import canaries
from hvlab.model.core.events import EventKind, EventLog, Phase
from hvlab.model.core.layout import DEFAULT_LAYOUT, Layout
from hvlab.model.core.protections import Design, Protection
from hvlab.model.core.store import Store
from hvlab.model.hypervisor import memory, partitions, synic
from hvlab.model.hypervisor.constants import (
    CHILD_PRIVILEGES,
    MSR_GUEST_OS_ID,
    MSR_HYPERCALL,
    PAGE_SIZE,
    ROOT_PRIVILEGES,
    HvMessageType,
    Privilege,
)
from hvlab.model.hypervisor.memory import HYPERVISOR, ROOT
from hvlab.model.hypervisor.partitions import HV_PID, ROOT_PID, PartitionState, VpState

TOKEN_SIZE = 16
DISK_SECRET_LBA = 5


def node_of(principal: str) -> str:
    """The topology node a principal's own code runs in."""
    if principal == HYPERVISOR or "." in principal:
        return principal
    return f"{principal}.kernel"


class Machine:
    """A Hyper-V style machine under one design. Deterministic for a given seed."""

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
        # Protection ids that plugins added; each is a defense consulted at its sites.
        self.defenses: tuple[str, ...] = ()
        # Imported here: the root's virtualization stack issues hypercalls through this machine.
        from hvlab.model.root.vid import RootVid

        self.vid = RootVid(self)
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

    # -- guest memory access ----------------------------------------------------------------
    def read(self, pid: int, gpa: int, size: int, actor: str | None = None) -> bytes | None:
        """A partition reads its own guest-physical memory through its second-level map."""
        return self._access(pid, gpa, size, None, actor)

    def write(self, pid: int, gpa: int, data: bytes, actor: str | None = None) -> bool:
        return self._access(pid, gpa, len(data), data, actor) is not None

    def _limit(self, pid: int) -> int:
        if pid == HV_PID:
            return self.layout.frames * PAGE_SIZE
        return self.store.get(("part", pid, "gpa_pages"), 0) * PAGE_SIZE

    def _translate(self, pid: int, gpn: int):
        """A partition's map entry; the hypervisor (HV_PID) sees physical memory as it is."""
        if pid == HV_PID:
            return (gpn, "rw-") if 0 <= gpn < self.layout.frames else None
        return self.store.get(("slat", pid, gpn))

    def _access(self, pid, gpa, size, data, actor):
        principal = self.principal(pid, actor)
        actor = actor or principal
        if size <= 0 or gpa < 0 or gpa + size > self._limit(pid):
            self.emit(
                EventKind.FAULT,
                actor,
                "gpa-out-of-range",
                path=(node_of(principal),),
                detail={"gpa": gpa, "size": size},
            )
            return None
        right = "r" if data is None else "w"
        first, last = gpa // PAGE_SIZE, (gpa + size - 1) // PAGE_SIZE
        for _attempt in range(2):
            entries = []
            for gpn in range(first, last + 1):
                entry = self._translate(pid, gpn)
                if entry is None or right not in entry[1]:
                    break
                entries.append(entry)
            else:
                return self._perform(principal, actor, gpa, size, data, entries)
            if not self._gpa_fault(pid, gpn, entry, data is not None, actor):
                return None
        return None  # pragma: no cover - the VID resolves at most once per access

    def _perform(self, principal, actor, gpa, size, data, entries):
        """Move the bytes through the map `entries` (one per page touched), record the event,
        and let the oracle look at what was read or written."""
        st = self.store
        if len(entries) == 1:  # the common case: all within one page
            pfns = (entries[0][0],)
            spa = pfns[0] * PAGE_SIZE + gpa % PAGE_SIZE
            if data is None:
                value = memory.read_phys(st, spa, size)
            else:
                memory.write_phys(st, spa, data)
                value = data
        else:
            pfns, out = tuple(e[0] for e in entries), []
            pos, end = gpa, gpa + size
            for pfn in pfns:
                off = pos % PAGE_SIZE
                chunk = min(PAGE_SIZE - off, end - pos)
                if data is None:
                    out.append(memory.read_phys(st, pfn * PAGE_SIZE + off, chunk))
                else:
                    memory.write_phys(
                        st, pfn * PAGE_SIZE + off, data[pos - gpa : pos - gpa + chunk]
                    )
                pos += chunk
            value = b"".join(out) if data is None else data
        self.emit(
            EventKind.MEMORY,
            actor,
            "read" if data is None else "write",
            path=(node_of(principal), "hw.ram"),
            detail={
                "partition": principal,
                "gpa": gpa,
                "size": size,
                "frames": pfns,
                "bytes": value[:16].hex(),
            },
        )
        if data is None:
            self.check_read(principal, value, actor, {"gpa": gpa, "frames": pfns})
            return value
        self.check_write(principal, pfns, actor, {"gpa": gpa})
        return b""

    def dma(
        self,
        spa: int,
        on_behalf: str,
        actor: str,
        path: tuple[str, ...],
        *,
        size: int = 0,
        data: bytes | None = None,
    ) -> bytes | None:
        """A device or the root moves bytes at system physical addresses for a guest (no second-
        level map on this path). The guest it acts for is the principal the oracle checks."""
        limit = self.layout.frames * PAGE_SIZE
        length = len(data) if data is not None else size
        if spa < 0 or spa + length > limit:
            self.emit(
                EventKind.FAULT,
                actor,
                "dma-out-of-range",
                path=path,
                detail={"spa": spa, "size": length},
            )
            return None
        frames = tuple(range(spa // PAGE_SIZE, (spa + max(length, 1) - 1) // PAGE_SIZE + 1))
        if data is None:
            value = memory.read_phys(self.store, spa, size)
        else:
            memory.write_phys(self.store, spa, data)
            value = data
        self.emit(
            EventKind.MEMORY,
            actor,
            "dma-read" if data is None else "dma-write",
            path=path,
            detail={
                "for": on_behalf,
                "spa": spa,
                "size": length,
                "frames": frames,
                "bytes": value[:16].hex(),
            },
        )
        if data is None:
            self.check_read(on_behalf, value, actor, {"spa": spa, "frames": frames})
        else:
            self.check_write(on_behalf, frames, actor, {"spa": spa})
        return value

    def check_read(self, principal: str, value: bytes, actor: str, where: dict) -> None:
        for name in canaries.secrets_seen(self.store, principal, value):
            self.emit(
                EventKind.BREACH,
                actor,
                "secret-read",
                path=(node_of(principal),),
                detail={"canary": name, "principal": principal, "how": "read", **where},
            )

    def check_write(self, principal: str, pfns: tuple[int, ...], actor: str, where: dict) -> None:
        for name, pfn in canaries.markers_violated(self.store, principal, pfns):
            self.emit(
                EventKind.BREACH,
                actor,
                "marker-written",
                path=(node_of(principal),),
                detail={
                    "canary": name,
                    "principal": principal,
                    "how": "write",
                    "frame": pfn,
                    **where,
                },
            )

    def _gpa_fault(self, pid, gpn, entry, write, actor) -> bool:
        """An access missed the second-level map or lacked the right. True if it was resolved."""
        st = self.store
        principal = self.name(pid)
        msg = HvMessageType.UNMAPPED_GPA if entry is None else HvMessageType.GPA_INTERCEPT
        detail = {"gpa": gpn * PAGE_SIZE, "access": "write" if write else "read"}
        if pid == ROOT_PID:
            # The root has no parent: the access simply faults. With separate address spaces
            # on, hypervisor and pool frames are absent from its identity map by design.
            owner = memory.frame_owner(st, gpn) or ""
            decided = (
                Protection.SEPARATE_ADDRESS_SPACES.value
                if owner == HYPERVISOR or owner.startswith("pool:")
                else None
            )
            self.emit(
                EventKind.FAULT,
                actor,
                "access-violation",
                status=msg,
                protection=decided,
                path=(node_of(principal), HYPERVISOR),
                detail={**detail, "frame_owner": owner},
            )
            return False
        parent = partitions.field(st, pid, "parent")
        st.set(("vp", pid, 0), VpState.SUSPENDED.value)
        self.emit(
            EventKind.INTERCEPT,
            HYPERVISOR,
            msg.label,
            status=msg,
            path=(node_of(principal), HYPERVISOR, "root.vid"),
            detail=detail,
        )
        synic.post(self, parent, 0, 0, msg, detail, actor=HYPERVISOR)
        resolved, protection = self.vid.handle_gpa_intercept(pid, gpn, entry, write)
        st.set(("vp", pid, 0), VpState.RUNNING.value)
        if resolved:
            self.emit(
                EventKind.INTERCEPT,
                "root.vid",
                "resume",
                path=("root.vid", HYPERVISOR, node_of(principal)),
                detail={"gpa": gpn * PAGE_SIZE, "retry": True},
            )
            return True
        self.emit(
            EventKind.FAULT,
            actor,
            "access-failed",
            status=msg,
            protection=protection,
            path=("root.vid", HYPERVISOR, node_of(principal)),
            detail=detail,
        )
        return False

    # -- synthetic MSRs ---------------------------------------------------------------------
    def write_msr(self, pid: int, msr: int, value: int, actor: str | None = None) -> bool:
        st = self.store
        principal = self.name(pid)
        actor = actor or principal
        detail = {"msr": msr, "value": value}
        if not partitions.has_privilege(st, pid, Privilege.ACCESS_HYPERCALL_MSRS):
            self.emit(
                EventKind.FAULT, actor, "#GP", path=(node_of(principal), HYPERVISOR), detail=detail
            )
            return False
        if msr == MSR_GUEST_OS_ID:
            partitions.set_field(st, pid, "guest_os_id", value)
        elif msr == MSR_HYPERCALL:
            gpn = value >> 12
            entry = memory.translate(st, pid, gpn)
            if not partitions.field(st, pid, "guest_os_id") or (value & 1 and entry is None):
                self.emit(
                    EventKind.FAULT,
                    actor,
                    "#GP",
                    path=(node_of(principal), HYPERVISOR),
                    detail={**detail, "why": "guest OS id unset or page unmapped"},
                )
                return False
            if value & 1:
                # The hypervisor overlays the page with vmcall; ret. It is read/execute only.
                memory.write_phys(st, entry[0] * PAGE_SIZE, b"\x0f\x01\xc1\xc3")
                memory.set_rights(st, pid, gpn, "r-x")
                partitions.set_field(st, pid, "hypercall_page", gpn)
            else:
                partitions.set_field(st, pid, "hypercall_page", None)
        else:
            self.emit(
                EventKind.FAULT,
                actor,
                "#GP",
                path=(node_of(principal), HYPERVISOR),
                detail={**detail, "why": "unknown synthetic MSR"},
            )
            return False
        self.emit(
            EventKind.MSR, actor, "wrmsr", path=(node_of(principal), HYPERVISOR), detail=detail
        )
        return True

    # -- partitions created by the root ------------------------------------------------------
    def new_child(self, name: str, parent: int, gpa_pages: int) -> int:
        return partitions.create(
            self.store, name, parent, PartitionState.CREATED, CHILD_PRIVILEGES, gpa_pages
        )
