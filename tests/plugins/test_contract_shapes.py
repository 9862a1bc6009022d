"""Contracts that can say what is true: `never` (blocked by a protection or by the architecture
itself), `always`, sets of protections to switch off, and Breach(off=..., on=...) for an attack
a protection makes possible; a wrong shape is one line; a lie is shown design by design."""

from __future__ import annotations

import dataclasses

import pytest

from hvlab.matrix import contract_text, matrix
from hvlab.model.core.attacks import ALWAYS, NEVER, Attack, AttackError, Breach
from hvlab.plugins import load_catalogue, site_handler


def attack(sets) -> Attack:
    return Attack("x", "x", "boot", sets, lambda: [])


@pytest.mark.parametrize(
    "given, normal",
    [
        (NEVER, ()),
        ((), ()),
        (ALWAYS, (frozenset(),)),
        ([set()], (frozenset(),)),
        ([{"a"}, ["b", "c"]], (frozenset({"a"}), frozenset({"b", "c"}))),
        ([Breach(off={"a"})], (frozenset({"a"}),)),
    ],
)
def test_every_shape_a_contract_may_take(given, normal):
    assert attack(given).breach_sets == normal


@pytest.mark.parametrize(
    "wrong", ["separate-address-spaces", ("separate-address-spaces",), 7, [{"a": 1}], [{1}]]
)
def test_a_wrong_shape_is_one_line_saying_what_a_contract_is(wrong):
    with pytest.raises(AttackError) as caught:
        attack(wrong)
    text = str(caught.value)
    assert "\n" not in text and "attack 'x'" in text
    assert "breach_sets must be 'never', 'always', or a list of sets of protection ids" in text


def test_breached_while_a_protection_is_on():
    b = Breach(off={"a"}, on={"b"})
    a = attack([b])
    assert a.predicts_breach(frozenset({"a"}))
    assert not a.predicts_breach(frozenset({"a", "b"}))  # b switched off closes the way
    assert not a.predicts_breach(frozenset())
    assert contract_text(a.breach_sets) == "{a} off and {b} on"


@pytest.fixture(scope="module")
def cat():
    return load_catalogue([], echo=False)


def test_a_lying_contract_is_shown_design_by_design_with_the_oracles_reason(cat):
    honest = cat.attacks["guest-snoop"]
    liar = dataclasses.replace(honest, breach_sets=NEVER)
    [row] = matrix([liar], jobs=1, site_handler=site_handler(cat), defenses=cat.extra_protections)
    assert not row.matches and not row.errors
    assert all(m.declared == "blocked" and m.found == "breached" for m in row.mismatches)
    lines = row.explain()
    assert len(lines) == 4 and lines[-1].startswith("… and ")
    assert "declared blocked, the model found breached" in lines[0]


def test_a_contract_needing_a_protection_on_matches_the_model(cat):
    """guest-snoop breaches with exclusive-guest-memory off; declared as needing some other
    protection on, the matrix finds the designs where that one is off and says so."""
    honest = cat.attacks["guest-snoop"]
    [need] = honest.breach_sets
    other = "no-third-party-code"
    said = dataclasses.replace(honest, breach_sets=[Breach(off=need, on={other})])
    [row] = matrix([said], jobs=1, site_handler=site_handler(cat), defenses=cat.extra_protections)
    assert row.mismatches and all(other in m.off for m in row.mismatches)
    assert all(m.declared == "blocked" and m.found == "breached" for m in row.mismatches)


NEVER_PLUGIN = """
from hvlab.api import (Attack, AttackActor, BeginProbe, EndProbe, RawHypercall, WaitUntil,
                       children_booted, hookimpl)

def program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("bogus-call", "a call code the hypervisor does not have")
    yield RawHypercall(0x7FFF)
    yield EndProbe()

@hookimpl
def hvlab_register_attacks(register):
    register(Attack(name="bogus-call", summary="no such call", workload="boot",
                    breach_sets="never", actors=lambda: [AttackActor("A.x", "A", program)]))
"""


def test_never_passes_when_the_architecture_itself_refuses(tmp_path):
    """Every protection off, nothing decides — yet there is no such call: blocked, not error."""
    from hvlab.session import RunSpec, Session

    path = tmp_path / "never.py"
    path.write_text(NEVER_PLUGIN)
    cat = load_catalogue([str(path)], echo=False)
    [row] = matrix([cat.attacks["bogus-call"]], jobs=1, site_handler=site_handler(cat))
    assert row.matches and set(row.cells.values()) == {"blocked"}
    lab = Session(RunSpec(workload="boot", attack="bogus-call", preset="monolithic"), cat).lab
    verdict = lab.outcome.probe("bogus-call")
    assert verdict.result == "blocked" and verdict.protection is None
    assert "the hypervisor has no such path" in verdict.reason
