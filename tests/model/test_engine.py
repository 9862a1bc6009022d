"""The scheduler's wake-ups: a waiting actor whose condition gives its store keys is asked again
only after one of them was set, and that must never change a run."""

import re

import pytest

from hvlab.lab import Lab
from hvlab.matrix import run_design
from hvlab.model.core import engine
from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.core.protections import Design, Protection
from hvlab.model.hypervisor.memory import ROOT
from hvlab.model.scenarios.workloads import WORKLOADS
from hvlab.model.system import Machine
from hvlab.plugins import load_catalogue, site_handler

CAT = load_catalogue()
SOME_DESIGNS = [
    frozenset(),
    frozenset(p.value for p in Protection),
    *(frozenset({p.value}) for p in Protection),
]


@pytest.fixture
def checked(monkeypatch):
    """Ask every waiting actor's condition before every operation, and fail if one holds
    while none of the keys it gave was set."""
    monkeypatch.setattr(engine, "CHECK_WAKE_UPS", True)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_models_wake_up_keys_are_complete_in_every_workload(checked, workload):
    # busy's loop repeats one write, read and signal 1,000 times: 50 rounds go down every path
    params = {"iterations": 50} if workload == "busy" else {}
    for off in SOME_DESIGNS:
        Lab(workload, Design(off), params=params)  # raises if a keyed condition held unannounced


@pytest.mark.parametrize("attack", sorted(CAT.attacks))
def test_the_models_wake_up_keys_are_complete_under_every_attack(checked, attack):
    for off in SOME_DESIGNS:
        verdict = run_design(CAT.attacks[attack], Design(off), site_handler=site_handler(CAT))
        assert verdict in ("blocked", "breached", "unavailable")


def waiter_and_setter(keys: tuple):
    """A waits for ("flag",) to be set, giving `keys`; B sets it on its third operation."""
    m = Machine(Design(frozenset()), 0)
    seen = []

    def waiter(_actor):
        yield WaitUntil(lambda m: m.store.get(("flag",)) is not None, "flag", keys)
        seen.append("woke")

    def setter(_actor):
        for i in range(3):
            yield Do(lambda m, i=i: m.store.set(("count",), i))
        yield Do(lambda m: m.store.set(("flag",), 1))

    actors = [Actor("root.a", ROOT, waiter, m), Actor("root.b", ROOT, setter, m)]
    engine.run(m, actors, seed=0)
    return seen


def test_a_keyed_wait_wakes_when_its_key_is_set():
    assert waiter_and_setter((("flag",),)) == ["woke"]
    assert waiter_and_setter(()) == ["woke"]  # no keys: asked before every operation


def test_wrong_keys_miss_the_wake_up_and_the_check_says_which_wait(checked):
    with pytest.raises(RuntimeError, match=re.escape("root.a: 'flag' holds; no key of it was set")):
        waiter_and_setter((("count",),))


def test_wrong_keys_without_the_check_leave_the_actor_waiting(monkeypatch):
    """What the check guards against: keys that miss what the condition reads."""
    monkeypatch.setattr(engine, "CHECK_WAKE_UPS", False)
    assert waiter_and_setter((("other",),)) == []


def test_after_a_run_the_store_watches_nothing():
    """Calls made on the machine after its run (the fuzzer's, the tests') note no wake-ups."""
    m = Machine(Design(frozenset()), 0)
    engine.run(m, WORKLOADS["ping"].build(m), seed=0)
    store = m.store
    assert store.watched == set()
    store.set(("sief", 1, 0, 2), 1)
    assert store.woken == []
