"""The root's virtualization stack (VID and memory manager): it lends frames to children and
answers their memory intercepts. It runs in the root and acts only through hypercalls.

`exclusive-guest-memory` is a policy here, not in the hypervisor: the TLFS lets a parent map one
frame into several children; the root's memory manager chooses never to. Out of frames, a
memory manager may free some by page combining — identical pages backed by one frame,
read-only, copied on the first write; the policy keeps that within one guest. (Hyper-V itself
overcommits with Dynamic Memory, not page combining: the model's counterfactual root combines
pages as memory managers that share pages across VMs do.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import slots
from hvlab.model.core.events import EventKind
from hvlab.model.core.layout import GUEST_KERNEL_TEXT_PAGE, GUEST_PINNED_PAGES
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
RX = MapFlags.READABLE | MapFlags.KERNEL_EXECUTABLE
COMBINED = "combined"  # store key ("combined", frame) -> True: pages combined onto the frame
# The page of kernel code the worker loads into every child (see load_image).
KERNEL_TEXT = b"\x0f\x1f\x44\x00\x00\xc3\x90\x90"  # nop dword [rax+rax]; ret; nop; nop


class RootVid:
    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.cow_shared: tuple[tuple[str, int], ...] = ()  # the last copy-on-write's other pages

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
        self.cow_shared = ()
        resolved, protection = self._gpa_intercept(pid, gpn, entry, write)
        complete_intercept(self.m, pid, ACTOR, {})
        return resolved, protection

    def _gpa_intercept(self, pid: int, gpn: int, entry, write: bool):
        m, st = self.m, self.m.store
        synic.consume(m, ROOT_PID, 0, 0, ACTOR)
        child = m.name(pid)
        if entry is not None:
            if write and st.get((COMBINED, entry[0])):
                return self._copy_on_write(pid, gpn, entry[0])
            self.policy(
                "refuse-access",
                gpa=gpn * PAGE_SIZE,
                partition=child,
                why=f"{'write' if write else 'read'} not allowed by rights {entry[1]}",
            )
            return False, None
        free = self.free_frames(1) or self._combine_pages(pid, gpn)
        if free is None:  # the pass found pages to combine, and the policy refused them all
            return False, None
        if not free:
            self.policy("out-of-memory", gpa=gpn * PAGE_SIZE, partition=child)
            return False, None
        self.policy("hot-add", gpa=gpn * PAGE_SIZE, partition=child, frame=free[0])
        result = self.map_frames(pid, gpn, free[:1])
        return bool(result and result.ok), None

    # -- page combining ---------------------------------------------------------------------
    def load_image(self, pid: int) -> None:
        """The worker loads the guest's boot image: its kernel's code, the same in every child
        (the model keeps one page of it, of one qword)."""
        entry = memory.translate(self.m.store, pid, GUEST_KERNEL_TEXT_PAGE)
        if entry is None:
            return
        memory.write_phys(self.m.store, entry[0] * PAGE_SIZE, KERNEL_TEXT)
        self.m.emit(
            EventKind.MEMORY,
            ACTOR,
            "load-image",
            path=(ACTOR, "hw.ram"),
            detail={
                "partition": self.m.name(pid),
                "gpa": GUEST_KERNEL_TEXT_PAGE * PAGE_SIZE,
                "frame": entry[0],
                "bytes": KERNEL_TEXT.hex(),
            },
        )

    def _identical_pages(self) -> list[list[tuple[int, int, int]]]:
        """Page combining's scan: the children's movable pages (above the pinned kernel pages,
        writable, not zero) grouped by identical contents, groups of two or more, each as
        (pid, gpn, frame) lowest frame first."""
        st = self.m.store
        by_content: dict[bytes, list[tuple[int, int, int]]] = {}
        for pid in partitions.children(st):
            for gpn in range(GUEST_PINNED_PAGES, partitions.field(st, pid, "gpa_pages", 0)):
                entry = memory.translate(st, pid, gpn)
                if entry is None or "w" not in entry[1] or memory.frame_is_zero(st, entry[0]):
                    continue
                content = memory.read_phys(st, entry[0] * PAGE_SIZE, PAGE_SIZE)
                by_content.setdefault(content, []).append((pid, gpn, entry[0]))
        return [sorted(g, key=lambda p: p[2]) for g in by_content.values() if len(g) > 1]

    def _combine_pages(self, pid: int, gpn: int) -> list[int] | None:
        """Out of frames: free some by combining identical pages — every page of a group backed
        by one frame, read-only, copied again on the first write. Each page moved onto another
        guest's frame is asked of the sharing policy (exclusive-guest-memory), as any map is.
        The frames freed; None when there were pages to combine and the policy refused them
        all (the event says so)."""
        m, st = self.m, self.m.store
        groups = self._identical_pages()
        freed: list[int] = []
        refused: list[tuple[str, int, int, str]] = []
        for group in groups:
            keep_pid, keep_gpn, keep = group[0]
            moved = []
            for other_pid, other_gpn, frame in group[1:]:
                why = self.refuses_share(other_pid, keep) if m.on(EXCLUSIVE) else None
                if why:
                    refused.append((m.name(other_pid), other_gpn * PAGE_SIZE, keep, why))
                else:
                    moved.append((other_pid, other_gpn, frame))
            if not moved:
                continue
            self.policy(
                "combine-pages",
                pages=", ".join(
                    f"{m.name(p)} {g * PAGE_SIZE:#x}"
                    for p, g, _f in ((keep_pid, keep_gpn, keep), *moved)
                ),
                onto=keep,
                why="no free frame: identical pages backed by one frame, read-only",
            )
            for other_pid, other_gpn, frame in moved:
                call(m, ROOT_PID, HvCallCode.UNMAP_GPA_PAGES, pack(other_pid, other_gpn), [],
                     rep_count=1, actor=ACTOR)  # fmt: skip
                self._map_rights(other_pid, other_gpn, keep, RX)
                freed.append(frame)
            self._map_rights(keep_pid, keep_gpn, keep, RX)
            st.set((COMBINED, keep), True)
        if freed or not refused:
            return self.free_frames(1) if freed else []
        partition, gpa, frame, why = refused[0]
        self.policy(
            "refuse-overcommit",
            EXCLUSIVE,
            gpa=gpn * PAGE_SIZE,
            partition=m.name(pid),
            pages=", ".join(f"{p} {g:#x}" for p, g, _f, _w in refused),
            onto=frame,
            why=f"no free frame, and combining would put {partition}'s page {gpa:#x} on "
            f"{memory.frame_owner(st, frame)}'s frame {frame:#x}: {why}",
        )
        return None

    def _map_rights(self, pid: int, gpn: int, frame: int, flags: int) -> None:
        """HvCallMapGpaPages of one frame at `gpn` of `pid` (a remap replaces the entry)."""
        call(self.m, ROOT_PID, HvCallCode.MAP_GPA_PAGES, pack(pid, gpn, flags), [pack(frame)],
             actor=ACTOR)  # fmt: skip

    def _copy_on_write(self, pid: int, gpn: int, frame: int):
        """A write to a combined page: give the writer its own copy (or, when it is the frame's
        last guest, its write right back). The writer's VP waited for all of it — the delay a
        guest can time. (resolved, deciding protection)."""
        m, st = self.m, self.m.store
        others = tuple(
            (p, g) for p, g in memory.mappers(st, frame) if p != ROOT_PID and (p, g) != (pid, gpn)
        )
        if not others:
            st.set((COMBINED, frame), None)
            self.policy("unshare", gpa=gpn * PAGE_SIZE, partition=m.name(pid), frame=frame)
            self._map_rights(pid, gpn, frame, RWX)
            return True, None
        free = self.free_frames(1)
        if not free:
            self.policy("out-of-memory", gpa=gpn * PAGE_SIZE, partition=m.name(pid))
            return False, None
        copy = free[0]
        memory.write_phys(st, copy * PAGE_SIZE, memory.read_phys(st, frame * PAGE_SIZE, PAGE_SIZE))
        self.policy(
            "copy-on-write",
            gpa=gpn * PAGE_SIZE,
            partition=m.name(pid),
            frame=frame,
            copy=copy,
            shared_with=tuple(f"{m.name(p)} {g * PAGE_SIZE:#x}" for p, g in others),
        )
        self._map_rights(pid, gpn, copy, RWX)
        if len(others) == 1:  # the frame backs one page again: its write right comes back
            st.set((COMBINED, frame), None)
            self._map_rights(*others[0], frame, RWX)
        self.cow_shared = tuple((m.name(p), g) for p, g in others)
        return True, None
