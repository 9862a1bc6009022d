"""A plugin's own canaries: a secret in the root's memory that only one component may read, and
a marker only one may write; the oracle judges them as the lab's own."""

from __future__ import annotations

import pytest

from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec, Session

PLUGIN = """
from hvlab.api import (Attack, AttackActor, BeginProbe, EndProbe, Read, Write, WaitUntil,
                       children_booted, hookimpl)

PAGE = 0x3F000  # a page of the root's own memory, named by the plugin

@hookimpl
def hvlab_register_canaries(register):
    register("storvsp-private", "root", PAGE, readers=("root.storvsp", "hypervisor"))
    register("root-table", "root", PAGE + 0x1000, writers=("root",))

def program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("peek", "a root driver reads the VSP's private page")
    yield ACTION
    yield EndProbe()

@hookimpl
def hvlab_register_attacks(register):
    register(Attack(name="peek", summary="reads or writes a plugin canary", workload="boot",
                    breach_sets="always",
                    actors=lambda: [AttackActor("root.driver:peek", "root", program)]))
"""


@pytest.mark.parametrize(
    "action, what",
    [("Read(PAGE, 16)", "storvsp-private"), ("Write(PAGE + 0x1000, b'X')", "root-table")],
    ids=["secret", "marker"],
)
def test_a_plugin_canary_is_judged_like_the_labs(tmp_path, action, what):
    path = tmp_path / "canaries.py"
    path.write_text(PLUGIN.replace("ACTION", action))
    cat = load_catalogue([str(path)], echo=False)
    assert not cat.errors, cat.errors
    lab = Session(RunSpec(workload="boot", attack="peek"), cat).lab
    planted = [
        e for e in lab.events if e.kind.value == "canary" and e.detail_dict().get("canary") == what
    ]
    assert planted and planted[0].detail_dict()["plugin"] == "canaries"
    verdict = lab.outcome.probe("peek")
    assert verdict.result == "breached" and verdict.canary == what, verdict


@pytest.mark.parametrize(
    "call, said",
    [
        ('register("x", "A", 0x1000, readers=("A",))', "where must be 'root' or 'hypervisor'"),
        ('register("x", "root", 0x1000)', "give readers (a secret), writers (a marker) or both"),
        ('register("x", "root", 0x1000, readers="root")', "readers must be a list of principals"),
        ('register("hv-secret", "root", 0x1000, readers=())', "already registered"),
    ],
)
def test_a_bad_canary_is_one_line_naming_the_plugin(tmp_path, call, said):
    path = tmp_path / "badcanary.py"
    path.write_text(
        "from hvlab.api import hookimpl\n\n@hookimpl\ndef hvlab_register_canaries(register):\n"
        f"    {call}\n"
    )
    cat = load_catalogue([str(path)], echo=False)
    assert len(cat.errors) == 1 and "badcanary" in cat.errors[0] and said in cat.errors[0]
