"""Attack contracts: every registered attack's declared breach sets match the model under every
design (2 to the number of protections), and the matrix's shortcut (start from the booted state)
agrees with full runs."""

import random

import pytest

from hvlab.lab import Lab
from hvlab.matrix import (
    BOOT_STATE,
    RecordingDesign,
    all_designs,
    attack_cells,
    booted_state,
    matrix,
    run_cell,
    run_design,
)
from hvlab.model.core.protections import Design, Protection
from hvlab.plugins import load_catalogue, site_handler

CAT = load_catalogue()
ATTACKS = list(CAT.attacks.values())
SITES = site_handler(CAT)
EXTRA = CAT.extra_protections


def test_catalogue_loads_clean():
    assert CAT.errors == []
    assert len(ATTACKS) >= 6


def test_every_attack_is_complete():
    """A collector: each attack names a workload that exists, declares its breach sets, and
    gets a verdict (not an error) with every protection on."""
    for attack in ATTACKS:
        assert attack.workload in CAT.workloads, attack.name
        assert isinstance(attack.breach_sets, tuple), attack.name
        verdict = run_cell(attack, frozenset(), site_handler=SITES, defenses=EXTRA)
        assert verdict in ("blocked", "breached", "unavailable"), attack.name


def test_declared_breach_sets_match_the_model_for_every_design():
    rows = matrix(ATTACKS, jobs=2, site_handler=SITES, defenses=EXTRA)
    built_in = 2 ** len(Protection)
    assert len(all_designs()) == built_in == 512
    assert len(all_designs(EXTRA)) == built_in * 2 ** len(EXTRA)
    for row in rows:
        assert len(row.cells) == built_in * 2 ** len(EXTRA)
        assert row.errors == 0, row.attack
        assert set(row.found) == set(row.declared), (row.attack, row.found, row.declared)
        through = {"breached", "unavailable"}  # an attack on availability gets through so
        for off, result in row.cells.items():  # with plugin defenses off, as declared
            if set(EXTRA) <= off:
                predicted = CAT.attacks[row.attack].predicts_breach(off - set(EXTRA))
                assert (result in through) == predicted and result != "error", (row.attack, off)
        breached = {off for off, r in row.cells.items() if r in through}
        for off in breached:  # monotone: switching more off never helps the defender
            assert all(r in through for o, r in row.cells.items() if off <= o), row.attack


def test_the_defense_plugin_adds_an_axis_that_matters():
    rows = {r.attack: r for r in matrix(ATTACKS, jobs=2, site_handler=SITES, defenses=EXTRA)}
    mitm = rows["mitm-driver"]
    assert frozenset({"driver-signing", "no-third-party-code", "guest-traffic-via-root"}) in (
        mitm.found_all
    )
    assert frozenset({"no-third-party-code", "guest-traffic-via-root"}) not in mitm.found_all


@pytest.mark.parametrize(
    "off",
    [frozenset()]
    + [frozenset({p.value}) for p in Protection]
    + [frozenset(p.value for p in Protection)],
)
def test_matrix_shortcut_agrees_with_full_runs(off):
    for attack in ATTACKS:
        full = Lab(
            attack.workload, Design(off), attack=attack, site_handler=SITES, defenses=EXTRA
        ).run()
        quick = run_cell(attack, off, site_handler=SITES, defenses=EXTRA)
        assert full.probe(attack.name).result == quick, (attack.name, sorted(off))


def test_designs_decided_by_an_earlier_run_get_the_verdict_a_run_of_their_own_gives():
    """The matrix runs a design only if no earlier run asked about the switches it differs in.
    Check that against a run of its own for every design with one switch off, every design
    with one switch on, both ends, and random ones."""
    designs = all_designs(EXTRA)
    ids = sorted(max(designs, key=len))
    rng = random.Random(7)
    sample = {frozenset(), frozenset(ids)}
    sample |= {frozenset({p}) for p in ids} | {frozenset(ids) - {p} for p in ids}
    sample |= set(rng.sample(designs, 24))
    for attack in ATTACKS:
        cells, runs = attack_cells(attack, designs, site_handler=SITES, defenses=EXTRA)
        assert len(cells) == len(designs) and runs < len(designs) / 4, (attack.name, runs)
        for off in sorted(sample, key=sorted):
            alone = run_cell(attack, off, site_handler=SITES, defenses=EXTRA)
            assert cells[off] == alone, (attack.name, sorted(off))


def test_a_recording_design_notes_the_switches_a_run_asks_about():
    design = RecordingDesign(frozenset({"mediated-io"}))
    assert design.is_on("sdl-input-validation") and not design.is_on("mediated-io")
    assert design.asked == {"sdl-input-validation", "mediated-io"}
    verdict = run_cell(CAT.attacks["direct-device-io"], frozenset())
    recorded = RecordingDesign(frozenset())
    assert run_design(CAT.attacks["direct-device-io"], recorded, 0, SITES, EXTRA) == verdict
    assert "mediated-io" in recorded.asked  # the port-I/O path is decided by it


def test_only_the_declared_protections_change_the_booted_state():
    base = booted_state(frozenset(), 0)
    for p in Protection:
        state = booted_state(frozenset({p.value}) & BOOT_STATE, 0)
        full = Lab("boot", Design(frozenset({p.value})))
        assert dict(full.state.data) == (state if p.value in BOOT_STATE else base), p.value


def test_normal_workloads_still_work_with_every_protection_on():
    for name in ("boot", "disk-read", "disk-write", "ping", "ide-port-io"):
        outcome = Lab(name).run()
        assert outcome.result == "ok" and outcome.completed, name


def test_driver_signing_decides_when_the_loader_exists(capsys):
    from hvlab.cli import main

    mitm = ["run", "ping", "--attack", "mitm-driver", "--off"]
    loader = ["no-third-party-code", "guest-traffic-via-root"]
    assert main([*mitm, *loader]) == 0
    assert "mitm-driver            blocked by driver-signing" in capsys.readouterr().out
    assert main([*mitm, *loader, "driver-signing"]) == 0
    out = capsys.readouterr().out
    assert "mitm-driver            BREACHED: B-traffic reached hypervisor.driver:mitm" in out
