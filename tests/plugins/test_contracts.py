"""Attack contracts: every registered attack's declared breach sets match the model under all
256 designs, and the matrix's shortcut (start from the booted state) agrees with full runs."""

import pytest

from hvlab.lab import Lab
from hvlab.matrix import BOOT_STATE, all_designs, booted_state, matrix, run_cell
from hvlab.model.protections import Design, Protection
from hvlab.plugins import load_catalogue, site_handler

CAT = load_catalogue()
ATTACKS = list(CAT.attacks.values())
SITES = site_handler(CAT)


def test_catalogue_loads_clean():
    assert CAT.errors == []
    assert len(ATTACKS) >= 6


def test_every_attack_is_complete():
    """A collector: each attack names a workload that exists, declares its breach sets, and
    gets a verdict (not an error) with every protection on."""
    for attack in ATTACKS:
        assert attack.workload in CAT.workloads, attack.name
        assert isinstance(attack.breach_sets, tuple), attack.name
        assert run_cell(attack, frozenset(), site_handler=SITES) in ("blocked", "breached")


def test_declared_breach_sets_match_the_model_for_all_256_designs():
    rows = matrix(ATTACKS, jobs=2, site_handler=SITES)
    assert len(all_designs()) == 256
    for row in rows:
        assert len(row.cells) == 256
        assert row.errors == 0, row.attack
        assert set(row.found) == set(row.declared), (row.attack, row.found, row.declared)
        for off, result in row.cells.items():  # monotone: switching more off never helps
            expected = "breached" if CAT.attacks[row.attack].predicts_breach(off) else "blocked"
            assert result == expected, (row.attack, sorted(off))


@pytest.mark.parametrize(
    "off",
    [frozenset()]
    + [frozenset({p.value}) for p in Protection]
    + [frozenset(p.value for p in Protection)],
)
def test_matrix_shortcut_agrees_with_full_runs(off):
    for attack in ATTACKS:
        full = Lab(attack.workload, Design(off), attack=attack, site_handler=SITES).run()
        quick = run_cell(attack, off, site_handler=SITES)
        assert full.probe(attack.name).result == quick, (attack.name, sorted(off))


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
