"""The defense sites: a plugin's defense, while switched on, may refuse a hypercall, a memory
access, port I/O, a packet the VSP fetched, or a GPADL/OPEN message; the model refuses as for
its own protections, credits the defense, and the matrix grows by it."""

from __future__ import annotations

import pytest

from hvlab.matrix import matrix
from hvlab.plugins import load_catalogue, site_handler
from hvlab.session import RunSpec, Session

TEMPLATE = """
from hvlab.api import hookimpl

@hookimpl
def hvlab_register_defenses(register):
    register("fence", "A defense of the test's own, at one site.")

@hookimpl
def HOOK(ctx):
    assert ctx.defense == "fence" and ctx.site == "SITE"
    if CONDITION:
        ctx.refuse("the test's fence")
"""

# site: (hook, condition, workload, the refused event's name)
SITES = {
    "hypercall": (
        "hvlab_site_hypercall",
        "ctx.partition == 'A' and ctx.name == 'HvCallMapGpaPages'",
        ("boot", "privileged-hypercall", ("hypercall-only-access",)),
        "HvCallMapGpaPages",
    ),
    "memory-access": (
        "hvlab_site_memory_access",
        "ctx.partition == 'A' and ctx.write and ctx.gpa // 4096 == 0x14",  # its secret page
        ("boot", None, ()),
        "access-refused",
    ),
    "port-io": (
        "hvlab_site_port_io",
        "ctx.partition != 'root' and 0x1F0 <= ctx.port <= 0x1F7",
        ("boot", "direct-device-io", ("mediated-io",)),
        "port-refused",
    ),
    "vsp-packet": (
        "hvlab_site_vsp_packet",
        "ctx.partition == 'A' and ctx.device == 'storage' and ctx.type == 9",
        ("boot", "forged-gpa-list", ("vsp-validates-input",)),
        "packet-corrupt",
    ),
    "vmbus-message": (
        "hvlab_site_vmbus_message",
        "ctx.partition == 'B' and ctx.message == 'CHANNELMSG_OPENCHANNEL'",
        ("boot", None, ()),
        "open-refused",
    ),
}


def fence(tmp_path, site: str):
    hook, condition, _run, _event = SITES[site]
    source = TEMPLATE.replace("HOOK", hook).replace("SITE", site).replace("CONDITION", condition)
    path = tmp_path / "fence.py"
    path.write_text(source)
    cat = load_catalogue([str(path)], echo=False)
    assert not cat.errors, cat.errors
    return cat


@pytest.mark.parametrize("site", sorted(SITES))
def test_a_defense_refuses_at_its_site_and_is_credited(tmp_path, site):
    cat = fence(tmp_path, site)
    _hook, _cond, (workload, attack, off), refused = SITES[site]
    lab = Session(RunSpec(workload=workload, attack=attack, off=off), cat).lab
    decided = [ev for ev in lab.events if ev.protection == "fence"]
    assert decided and decided[0].name == refused, [(e.name, e.protection) for e in decided]
    if attack:  # the attack the model's own protection (switched off) no longer stops
        verdict = lab.outcome.probe(attack)
        assert verdict.result == "blocked" and "fence" in verdict.blocked_by, verdict
    # switched off, the defense is not asked: nothing is credited to it
    quiet = Session(RunSpec(workload=workload, attack=attack, off=(*off, "fence")), cat).lab
    assert not any(ev.protection == "fence" for ev in quiet.events)


def test_the_matrix_grows_by_a_site_defense(tmp_path):
    cat = fence(tmp_path, "port-io")
    [row] = matrix(
        [cat.attacks["direct-device-io"]],
        jobs=1,
        site_handler=site_handler(cat),
        defenses=cat.extra_protections,
    )
    assert "fence" in cat.extra_protections
    assert frozenset({"mediated-io", "fence"}) in row.found_all  # both must be off now
    assert row.matches  # its declared contract still holds with the plugin defenses off
