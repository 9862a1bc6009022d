"""Meta-tests: every hook is documented with its exact signature, the reference in
docs/plugins.md is generated from those docstrings, and every hook has a test here."""

import inspect
import pathlib

from hvlab import hookdoc, hookspecs

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOOKS = hookdoc.hooks()


def test_every_hook_is_prefixed_typed_and_documented():
    assert HOOKS
    for fn in HOOKS:
        assert fn.__name__.startswith("hvlab_")
        sig = inspect.signature(fn)
        assert sig.return_annotation != inspect.Signature.empty, fn.__name__
        doc = inspect.cleandoc(fn.__doc__ or "")
        assert "Example::" in doc and "@hookimpl" in doc, fn.__name__
        for param in sig.parameters:
            assert param in doc and f":param {param}:" in doc, (fn.__name__, param)


def test_hook_reference_in_the_docs_is_current():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    assert hookdoc.render(doc) == doc, "run: python -m hvlab.hookdoc"
    for fn in HOOKS:
        assert f"`{fn.__name__}{str(inspect.signature(fn)).replace(chr(39), '')}`" in doc


RECORDER = """
from hvlab.api import (Attack, AttackActor, BeginProbe, EndProbe, LoadDriver, PortIo, WaitUntil,
                       children_booted, hookimpl)

CALLS = []

def program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("recorder", "installs a driver in the root's switch, which a defense sees")
    yield LoadDriver("rec", "root")
    yield PortIo(0x1F7, size=1)
    yield EndProbe()

@hookimpl
def hvlab_register_attacks(register):
    CALLS.append("hvlab_register_attacks")
    register(Attack(name="recorder", summary="records", workload="rec-ping",
                    breach_sets="always", drivers=("rec",),
                    actors=lambda: [AttackActor("root.rec", "root", program)]))

@hookimpl
def hvlab_register_workloads(register):
    CALLS.append("hvlab_register_workloads")
    from hvlab.model.scenarios.workloads import WORKLOADS
    register("rec-ping", WORKLOADS["ping"].build, "ping, under another name")

@hookimpl
def hvlab_register_canaries(register):
    CALLS.append("hvlab_register_canaries")
    register("rec-canary", "root", 0x3F000, readers=("root",))

@hookimpl
def hvlab_register_defenses(register):
    CALLS.append("hvlab_register_defenses")
    register("rec-defense", "A defense that looks at every driver load and lets it be.")

@hookimpl
def hvlab_site_driver_load(ctx):
    CALLS.append("hvlab_site_driver_load")

@hookimpl
def hvlab_site_vmbus_packet(ctx):
    CALLS.append("hvlab_site_vmbus_packet")
    ctx.observe()

def seen(site):
    def hook(ctx):
        if site not in CALLS:
            CALLS.append(site)
    hook.__name__ = site
    return hookimpl(hook)

hvlab_site_hypercall = seen("hvlab_site_hypercall")
hvlab_site_memory_access = seen("hvlab_site_memory_access")
hvlab_site_port_io = seen("hvlab_site_port_io")
hvlab_site_vsp_packet = seen("hvlab_site_vsp_packet")
hvlab_site_vmbus_message = seen("hvlab_site_vmbus_message")

@hookimpl
def hvlab_event(event):
    if "hvlab_event" not in CALLS:
        CALLS.append("hvlab_event")

@hookimpl
def hvlab_lab_started(info):
    CALLS.append("hvlab_lab_started")

@hookimpl
def hvlab_lab_finished(info, outcome):
    CALLS.append("hvlab_lab_finished")
"""


def test_every_hook_is_called(tmp_path):
    """One plugin implements every hook and records each call; one load and one run must call
    them all — the hooks are wired, not only named."""
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session

    path = tmp_path / "recorder.py"
    path.write_text(RECORDER)
    cat = load_catalogue([str(path)], echo=False)
    assert not cat.errors, cat.errors
    lab = Session(RunSpec(workload="rec-ping", attack="recorder"), cat).lab
    assert lab.outcome.probe("recorder").result == "breached"  # its driver saw B's frames
    calls = cat.manager.get_plugin("recorder").CALLS
    assert set(calls) == {fn.__name__ for fn in HOOKS}, set(calls) ^ {f.__name__ for f in HOOKS}


def test_markers_use_the_project_name():
    assert hookspecs.hookimpl.project_name == hookspecs.hookspec.project_name == "hvlab"
