"""Noninterference: two runs that differ only in guest B's secrets look the same to guest A."""

import pytest

from hvlab.lab import Lab

B_SECRETS = {"B-secret": 1, "B-disk": 1, "B-library": 1}


def seen_by_a(lab: Lab) -> list[dict]:
    """Every event guest A's own components take part in, in full."""
    return [e.to_json() for e in lab.events if e.actor == "A" or e.actor.startswith("A.")]


@pytest.mark.parametrize("workload", ["ping", "disk-read"])
@pytest.mark.parametrize("seed", range(50))
def test_a_cannot_tell_bs_secrets_apart(workload, seed):
    plain = Lab(workload, seed=seed)
    salted = Lab(workload, seed=seed, salts=B_SECRETS)
    assert plain.events != salted.events, "the pair must really differ in B's secrets"
    assert seen_by_a(plain) == seen_by_a(salted)


def test_the_comparison_can_fail_when_isolation_is_off():
    from hvlab.model.core.protections import Design

    design = Design.build("hyperv", ["exclusive-guest-memory"])
    plain = Lab("memory-probe", design, seed=0)
    salted = Lab("memory-probe", design, seed=0, salts=B_SECRETS)
    assert seen_by_a(plain) != seen_by_a(salted)
