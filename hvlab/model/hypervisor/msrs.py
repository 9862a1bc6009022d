"""Synthetic MSRs: the guest OS id and the hypercall page, written by a partition's kernel to
enable the hypercall interface (one of the hypervisor's entry points besides hypercalls)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.hypervisor.constants import (
    MSR_EOM,
    MSR_GUEST_OS_ID,
    MSR_HYPERCALL,
    MSR_SCONTROL,
    MSR_SIEFP,
    MSR_SIMP,
    MSR_SINT0,
    MSR_SVERSION,
    PAGE_SIZE,
    Privilege,
)
from hvlab.model.hypervisor.memory import HYPERVISOR

if TYPE_CHECKING:
    from hvlab.model.core.store import Store

from hvlab.model.hypervisor.guest_memory import node_of


class SyntheticMsrs:
    """WRMSR of the synthetic MSRs (a mixin of the Machine)."""

    store: Store

    def write_msr(self, pid: int, msr: int, value: int, actor: str | None = None) -> bool:
        st = self.store
        principal = self.name(pid)
        actor = actor or principal
        detail = {"msr": msr, "value": value}
        needs = (
            Privilege.ACCESS_SYNIC_REGS
            if MSR_SCONTROL <= msr <= MSR_SINT0 + 15
            else Privilege.ACCESS_HYPERCALL_MSRS
        )
        if not partitions.has_privilege(st, pid, needs):
            self.emit(
                EventKind.FAULT, actor, "#GP", path=(node_of(principal), HYPERVISOR), detail=detail
            )
            return False
        if MSR_SCONTROL <= msr <= MSR_SINT0 + 15 and not self._synic_msr(pid, msr, value):
            self.emit(
                EventKind.FAULT,
                actor,
                "#GP",
                path=(node_of(principal), HYPERVISOR),
                detail={**detail, "why": "not a writable SynIC register, or no such page"},
            )
            return False
        if MSR_SCONTROL <= msr <= MSR_SINT0 + 15:
            pass
        elif msr == MSR_GUEST_OS_ID:
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

    def _synic_msr(self, pid: int, msr: int, value: int) -> bool:
        """Record a SynIC register. SIMP and SIEFP name a page (bits 63:12) of the partition's
        own that must be mapped when enabled (bit 0); SVERSION is read-only."""
        st = self.store
        if msr == MSR_SVERSION or (MSR_EOM < msr < MSR_SINT0):
            return False
        page_missing = memory.translate(st, pid, value >> 12) is None
        if msr in (MSR_SIMP, MSR_SIEFP) and value & 1 and page_missing:
            return False
        names = {MSR_SCONTROL: "scontrol", MSR_SIMP: "simp", MSR_SIEFP: "siefp", MSR_EOM: "eom"}
        register = names.get(msr) or ("sint", msr - MSR_SINT0)
        if register != "eom":  # end of message: nothing to keep (the model has no queue)
            st.set(("synic", pid, register), value)
        return True
