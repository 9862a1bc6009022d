"""The root's virtualization stack (VID and memory manager): it lends frames to children and
answers their memory intercepts. It runs in the root and acts only through hypercalls.

`exclusive-guest-memory` is a policy here, not in the hypervisor: the TLFS lets a parent map one
frame into several children; the root's memory manager chooses never to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import slots
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor import memory, partitions, synic
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode, MapFlags
from hvlab.model.hypervisor.invoke import call, pack
from hvlab.model.hypervisor.memory import ROOT
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.root.worker import complete_intercept, emulate_port_io

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

ACTOR = "root.vid"
EXCLUSIVE = Protection.EXCLUSIVE_GUEST_MEMORY.value
RWX = MapFlags.READABLE | MapFlags.WRITABLE | MapFlags.KERNEL_EXECUTABLE


class RootVid:
    def __init__(self, machine: Machine) -> None:
        self.m = machine

    def handle_io_port_intercept(self, pid, port, data, size, detail):
        """A port I/O intercept of a child: the VID hands it to that VM's worker process."""
        return emulate_port_io(self.m, pid, port, data, size, detail)

    def unused(self, pfn: int) -> bool:
        """The root owns the frame and no guest maps it."""
        st = self.m.store
        return memory.frame_owner(st, pfn) == ROOT and not memory.guests_mapping(st, pfn)

    def free_frames(self, count: int, own_pool: bool = False) -> list[int]:
        """The lowest `count` frames of the VM budget that nobody but the root uses (with
        `own_pool`, of the frames the root keeps for its own pool)."""
        out = []
        frames = self.m.layout.root_pool_frames if own_pool else self.m.layout.vm_frames
        for pfn in frames:
            if self.unused(pfn):
                out.append(pfn)
                if len(out) == count:
                    break
        return out

    def policy(self, name: str, protection: str | None = None, **detail) -> None:
        self.m.emit(
            EventKind.POLICY, ACTOR, name, protection=protection, path=(ACTOR,), detail=detail
        )

    def name_partition(self, pid: int, name: str) -> None:
        """The root's name for a partition it created (the hypervisor knows only its id)."""
        partitions.rename(self.m.store, pid, name)
        self.policy("name-partition", partition=name, partition_id=pid)

    def map_frames(self, child: int, gpn: int, frames: list[int], flags: int = RWX):
        """MapGpaPages of root frames (GPA == SPA in the root) into a child. A frame that backs
        no guest yet is zeroed first: it may hold what an earlier guest left in it."""
        st = self.m.store
        for pfn in frames:
            why = self.refuses_share(child, pfn) if self.m.on(EXCLUSIVE) else None
            if why:
                self.policy("refuse-shared-frame", EXCLUSIVE, frame=pfn, why=why)
                return None
        fresh = [pfn for pfn in frames if self.unused(pfn) and not memory.frame_is_zero(st, pfn)]
        if fresh:
            for pfn in fresh:
                memory.zero_frame(st, pfn)
            self.m.emit(
                EventKind.MEMORY,
                ACTOR,
                "scrub",
                path=(ACTOR, "hw.ram"),
                detail={"frames": tuple(fresh)},
            )
        return call(
            self.m,
            ROOT_PID,
            HvCallCode.MAP_GPA_PAGES,
            pack(child, gpn, flags),
            [pack(f) for f in frames],
            actor=ACTOR,
        )

    def refuses_share(self, child: int, pfn: int) -> str | None:
        """The sharing policy (exclusive-guest-memory): why `pfn` may not back a page of
        `child`, or None. The learner's check when an exercise fills the slot."""
        others = frozenset(self.m.name(p) for p in memory.guests_mapping(self.m.store, pfn))
        others -= {self.m.name(child)}

        def builtin() -> str | None:
            return "the frame already backs another guest" if others else None

        return slots.ask(
            self.m, slots.SHARING, builtin, child=self.m.name(child), frame=pfn, mapped_in=others
        )

    def handle_gpa_intercept(
        self, pid: int, gpn: int, entry, write: bool
    ) -> tuple[bool, str | None]:
        """Answer a child's UnmappedGpa or GpaIntercept message, and complete the intercept
        (the VP retries the access: its RIP is unchanged). (resolved, deciding protection)."""
        resolved, protection = self._gpa_intercept(pid, gpn, entry, write)
        complete_intercept(self.m, pid, ACTOR, {})
        return resolved, protection

    def _gpa_intercept(self, pid: int, gpn: int, entry, write: bool):
        m, st = self.m, self.m.store
        synic.consume(m, ROOT_PID, 0, 0, ACTOR)
        child = m.name(pid)
        if entry is not None:
            self.policy(
                "refuse-access",
                gpa=gpn * PAGE_SIZE,
                partition=child,
                why=f"{'write' if write else 'read'} not allowed by rights {entry[1]}",
            )
            return False, None
        free = self.free_frames(1)
        if free:
            self.policy("hot-add", gpa=gpn * PAGE_SIZE, partition=child, frame=free[0])
            result = self.map_frames(pid, gpn, free)
            return bool(result and result.ok), None
        # The VM budget is spent. Overcommit would back the page with another guest's frame.
        shared = self._sharing_candidate(pid, gpn)
        if shared is None:
            self.policy("out-of-memory", gpa=gpn * PAGE_SIZE, partition=child)
            return False, None
        why = self.refuses_share(pid, shared) if m.on(EXCLUSIVE) else None
        if why:
            self.policy(
                "refuse-overcommit",
                EXCLUSIVE,
                gpa=gpn * PAGE_SIZE,
                partition=child,
                frame=shared,
                owner=memory.frame_owner(st, shared),
                why=f"no free frame, and {why}",
            )
            return False, None
        self.policy(
            "overcommit-share",
            gpa=gpn * PAGE_SIZE,
            partition=child,
            frame=shared,
            owner=memory.frame_owner(st, shared),
            why="no free frame: back the page with a frame another guest uses",
        )
        result = self.map_frames(pid, gpn, [shared])
        return bool(result and result.ok), None

    def _sharing_candidate(self, pid: int, gpn: int) -> int | None:
        """Page sharing's choice: the frame behind the same GPA in another guest (same guest
        image, same layout), else that guest's lowest frame."""
        st = self.m.store
        for other in partitions.children(st):
            if other != pid:
                entry = memory.translate(st, other, gpn)
                if entry is not None:
                    return entry[0]
        me = self.m.name(pid)
        for pfn in self.m.layout.vm_frames:
            owner = memory.frame_owner(st, pfn)
            if owner not in (ROOT, None, me) and not owner.startswith("pool:"):
                return pfn
        return None
