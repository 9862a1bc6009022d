"""Workloads run to the end; the oracle's verdicts follow the design, and nothing else."""

import pytest

from hvlab.lab import Lab
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Design, Protection
from hvlab.model.hypervisor import memory, partitions

# The boot trace for seed 0. If a deliberate model change moves it, update it in that commit
# and say why; an accidental change is exactly what this catches.
BOOT_SEED0_DIGEST = "8bac8a5c712de0b9681acf113e3ee518c5d67fa4e3dd4b5e994d2611e0e7ea40"

PROBES = ("guest-snoop", "hv-read", "privileged-hypercall", "hv-patch", "malformed-rep")
# Which single protection, switched off, lets each probe through.
BREACHED_BY = {
    "guest-snoop": {Protection.EXCLUSIVE_GUEST_MEMORY},
    "hv-read": {Protection.SEPARATE_ADDRESS_SPACES},
    "privileged-hypercall": {Protection.HYPERCALL_ONLY_ACCESS},
    "hv-patch": {Protection.SEPARATE_ADDRESS_SPACES, Protection.HYPERCALL_ONLY_ACCESS},
    "malformed-rep": {Protection.SDL_INPUT_VALIDATION},
}


def test_boot_golden_digest():
    assert Lab("boot", seed=0).digest == BOOT_SEED0_DIGEST


def test_same_inputs_same_digest_and_seed_matters():
    assert Lab("memory-probe", seed=7).digest == Lab("memory-probe", seed=7).digest
    assert Lab("boot", seed=1).digest != Lab("boot", seed=2).digest


def test_boot_builds_two_children_and_plants_canaries():
    lab = Lab("boot")
    outcome = lab.run()
    assert outcome.completed and outcome.result == "ok" and not outcome.breaches
    st = lab.state
    assert st.partitions() == {1: "root", 2: "A", 3: "B"}
    assert st.get(("part", 2, "state")) == "initialized"
    assert st.get(("vp", 3, 0)) == "running"
    assert len(st.get(("pool", 2))) == 8 and len(st.get(("pool", 3))) == 8
    assert len(st.second_level_map(2)) == 32 and len(st.second_level_map(3)) == 48
    assert set(st.get(("canaries",))) == {"hv-secret", "B-disk", "A-secret", "B-secret"}
    assert st.get(("vsc", 2, 1)) == 33 and st.get(("vsc", 3, 2)) == 50  # channels open
    # The hypercall sequence is the real life cycle, in order, for each child.
    calls = [
        (e.name, e.status.name)
        for e in lab.events
        if e.kind is EventKind.HYPERCALL
        and e.phase == "complete"
        and e.actor in ("root", "root.vid")
    ]
    # The first CreatePartition finds the root's own pool empty: the root deposits into it
    # and calls again (as Linux's mshv root does), then fills the child's pool *before*
    # InitializePartition, which takes its pages from there.
    assert calls[:7] == [
        ("HvCallCreatePartition", "INSUFFICIENT_MEMORY"),
        ("HvCallDepositMemory", "SUCCESS"),
        ("HvCallCreatePartition", "SUCCESS"),
        ("HvCallDepositMemory", "SUCCESS"),
        ("HvCallInitializePartition", "SUCCESS"),
        ("HvCallCreateVp", "SUCCESS"),
        ("HvCallMapGpaPages", "SUCCESS"),
    ]
    # Each child's VP is started by clearing its explicit-suspend register.
    assert calls.count(("HvCallSetVpRegisters", "SUCCESS")) == 2
    assert "HvCallStartVirtualProcessor" not in {name for name, _ in calls}


def test_boot_frames_each_have_one_owner_and_children_are_exclusive():
    lab = Lab("boot")
    st = lab.state
    owners = [st.frame_owner(pfn) for pfn in range(1024)]
    assert all(owners)
    assert owners.count("A") == 32 and owners.count("B") == 48
    assert owners.count("pool:A") == 8 and owners.count("hypervisor") == 32
    for pfn in range(1024):
        kids = {p for p, _ in st.get(("rmap", pfn), ()) if p != partitions.ROOT_PID}
        assert len(kids) <= 1


@pytest.mark.parametrize("design", ["hyperv", "monolithic"])
def test_memory_probe_all_blocked_with_these_protections_on(design):
    outcome = Lab("memory-probe", Design.preset(design)).run()
    assert [p.name for p in sorted(outcome.probes, key=lambda p: PROBES.index(p.name))] == list(
        PROBES
    )
    for probe in outcome.probes:
        assert probe.result == "blocked", probe
        assert probe.protection in {p.value for p in BREACHED_BY[probe.name]}
    assert outcome.completed and not outcome.breaches


@pytest.mark.parametrize("off", [p.value for p in Protection])
def test_each_probe_breaches_exactly_when_its_protection_is_off(off):
    outcome = Lab("memory-probe", Design.build("hyperv", [off])).run()
    for probe in outcome.probes:
        expect = "breached" if off in BREACHED_BY[probe.name] else "blocked"
        assert probe.result == expect, (off, probe)
        if expect == "breached":
            assert probe.canary and probe.principal


def test_breach_evidence_names_canary_and_principal():
    outcome = Lab("memory-probe", Design.build("hyperv", ["exclusive-guest-memory"])).run()
    snoop = outcome.probe("guest-snoop")
    expected = ("B-library", "A", "copy-on-write timing")
    assert (snoop.canary, snoop.principal, snoop.reason) == expected
    outcome = Lab("memory-probe", Design.build("hyperv", ["sdl-input-validation"])).run()
    rep = outcome.probe("malformed-rep")
    assert (rep.canary, rep.principal, rep.reason) == ("pool:B", "A", "write")


def test_separate_address_spaces_off_maps_hypervisor_into_root():
    on, off = (
        Lab("boot").state,
        Lab("boot", Design.build("hyperv", ["separate-address-spaces"])).state,
    )
    assert 0x10 not in on.second_level_map(1)
    assert off.second_level_map(1)[0x10] == (0x10, "rw-")
    # Deposited pool frames: no access with the protection on, still read/write with it off.
    pool = on.get(("pool", 2))[0]
    assert on.second_level_map(1)[pool][1] == "---"
    assert off.second_level_map(1)[pool][1] == "rwx"
    assert on.frame_owner(0x10) == memory.HYPERVISOR
