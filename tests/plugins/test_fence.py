"""A plugin's programs and conditions run fenced: every way one can go wrong — raise, yield junk,
spin, yield forever, write in a condition, yield Do, assign a site context's private state —
ends its run as `error` with one line naming the plugin, never `breached`, while the rest of
the matrix, the CLI and the TUI carry on."""

from __future__ import annotations

import textwrap

import pytest

from hvlab.cli import main
from hvlab.lessons import bundled_dir
from hvlab.model.core import guard
from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec, Session

HEADER = """
from hvlab.api import (Attack, AttackActor, BeginProbe, EndProbe, LoadDriver, Read, WaitUntil,
                       children_booted, hookimpl)
from hvlab.model.core.engine import Do

def attack(program, sets=()):
    return Attack(name=NAME, summary="misbehaves", workload=WORKLOAD, breach_sets=sets,
                  actors=lambda: [AttackActor("A.bad", "A", program)], drivers=DRIVERS)

NAME, WORKLOAD, DRIVERS = "bad", "boot", ()
"""

# each: the program's body after the probe has begun, and what the one line says
MISBEHAVIOURS = {
    "raise": ("1 / 0\nyield EndProbe()", "raised ZeroDivisionError"),
    "junk": ("yield 42", "yielded 42, which is not an operation"),
    "spin": ("while True:\n    pass", "ran past its budget of"),
    "endless": ("while True:\n    yield Read(0x1000, 8)", "took more than 2,000 operations"),
    "bad-argument": ("yield Read('not an address', 8)", "that the model could not carry out"),
    "writes-in-condition": (
        "yield WaitUntil(lambda m: m.store.set(('canary', 'B-secret'), None) or True)",
        "its condition raised AttributeError",
    ),
    "do": (
        "yield Do(lambda m: m.store.set(('slat', 2, 0x99), (0, 'rw')))",
        "yielded Do, which plugins may not use",
    ),
}


def plugin_file(tmp_path, name: str, body: str, sets="()") -> str:
    """A plugin whose attack's program runs `body` (code at column 0) once its probe began."""
    source = (
        HEADER
        + "\ndef program(actor):\n"
        + '    yield WaitUntil(children_booted, "both guests booted")\n'
        + '    yield BeginProbe("bad", "misbehaves")\n'
        + textwrap.indent(body, "    ")
        + "\n\n@hookimpl\ndef hvlab_register_attacks(register):\n"
        + f"    register(attack(program, {sets}))\n"
    )
    path = tmp_path / f"{name.replace('-', '_')}.py"
    path.write_text(source)
    return str(path)


@pytest.fixture
def small_budget(monkeypatch):
    """The budget's checks at a size a test can afford (the defaults are checked below)."""
    monkeypatch.setattr(guard, "BUDGET_OPS", 2_000)
    monkeypatch.setattr(guard, "BUDGET_SECONDS", 0.5)


@pytest.mark.parametrize("kind", sorted(MISBEHAVIOURS))
def test_a_misbehaving_program_is_an_error_naming_its_plugin(tmp_path, capsys, kind, small_budget):
    body, said = MISBEHAVIOURS[kind]
    # it even declares a breach, which it must never get credit for
    path = plugin_file(tmp_path, kind, body, sets='[{"separate-address-spaces"}]')
    code = main(["run", "boot", "--plugin", path, "--attack", "bad", "--off",
                 "separate-address-spaces"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1, out
    assert "Traceback" not in out + err
    plugin = kind.replace("-", "_")
    line = next(x for x in out.splitlines() if "bad " in x and "error:" in x)
    assert f"plugin '{plugin}'" in line and "program 'A.bad'" in line and said in line, line
    assert "BREACHED" not in out
    assert f"plugin '{plugin}'" in err and err.count("\n") == 1  # said once, blocked


def test_the_matrix_keeps_every_other_attack_and_names_the_failure(tmp_path, capsys):
    path = plugin_file(tmp_path, "raise", MISBEHAVIOURS["raise"][0])
    code = main(["matrix", "--plugin", path, "--jobs", "1"])
    out, _err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    bad = [x for x in lines if x.split()[1:2] == ["bad"]]
    assert bad and bad[0].startswith("MISMATCH")
    assert any("plugin 'raise': program 'A.bad' raised ZeroDivisionError" in x for x in lines)
    others = [x for x in lines if x.startswith(("ok ", "MISMATCH")) and x.split()[1] != "bad"]
    assert len(others) >= 10 and all(x.startswith("ok") for x in others), others


def test_check_fails_the_contract_and_says_why(tmp_path, capsys):
    path = plugin_file(tmp_path, "raise", MISBEHAVIOURS["raise"][0])
    tour = str(next(bundled_dir().glob("01-*.toml")))  # one lesson: the contracts are the point
    code = main(["check", "--plugin", path, tour])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    line = next(x for x in out.splitlines() if " bad" in x or "bad:" in x)
    assert "plugin 'raise': program 'A.bad' raised ZeroDivisionError" in line, line


def test_a_site_context_cannot_be_written(tmp_path, capsys):
    body = 'yield LoadDriver("spy", "root")\nyield Read(0x1000, 1)\nyield EndProbe()'
    source = plugin_file(tmp_path, "private", body)
    with open(source) as f:
        text = f.read().replace('"bad", "boot", ()', '"bad", "ping", ("spy",)')
    with open(source, "w") as f:
        f.write(text)
    with open(source, "a") as f:
        f.write("\n@hookimpl\ndef hvlab_site_vmbus_packet(ctx):\n    ctx._frame = b'forged'\n")
    code = main(["run", "ping", "--plugin", source, "--attack", "bad"])
    out, err = capsys.readouterr()
    assert code == 1 and "BREACHED" not in out
    assert "a site context is read-only ('_frame')" in err


def test_the_default_budget_stops_an_endless_program(tmp_path):
    """The real budget, once: 50,000 operations."""
    path = plugin_file(tmp_path, "endless", MISBEHAVIOURS["endless"][0])
    cat = load_catalogue([path], echo=False)
    outcome = Session(RunSpec(workload="boot", attack="bad"), cat).lab.outcome
    assert outcome.result == "error"
    assert any(f"took more than {guard.BUDGET_OPS:,} operations" in e for e in outcome.errors)
    assert guard.BUDGET_OPS == 50_000 and guard.BUDGET_SECONDS == 5.0


def test_a_blocked_plugin_is_not_run_again(tmp_path):
    from hvlab.session import SessionError

    path = plugin_file(tmp_path, "raise", MISBEHAVIOURS["raise"][0])
    cat = load_catalogue([path], echo=False)
    Session(RunSpec(workload="boot", attack="bad"), cat)
    with pytest.raises(SessionError, match="blocked for this session"):
        Session(RunSpec(workload="boot", attack="bad", off=("exclusive-guest-memory",)), cat)


async def test_the_tui_stays_up(tmp_path):
    from hvlab.tui.app import HvlabApp

    path = plugin_file(tmp_path, "raise", MISBEHAVIOURS["raise"][0])
    cat = load_catalogue([path], echo=False)
    app = HvlabApp(cat, Session(RunSpec(workload="boot", attack="bad"), cat))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert app.session.lab.outcome.result == "error"
        notes = [n.message for n in app._notifications]
        assert any("plugin 'raise'" in n for n in notes), notes
        assert app.is_running


WORKLOAD_PLUGIN = """
from hvlab.api import Actor, boot, hookimpl

def build(machine, **_):
    MODE
    def mine(actor):
        yield from ()
        raise RuntimeError("a workload's own program fails")
    return boot(machine) + [Actor("A.mine", "A", mine, machine)]

@hookimpl
def hvlab_register_workloads(register):
    register("shaky", build, "boot, and one program of the plugin's own")
"""


@pytest.mark.parametrize(
    "mode, said",
    [
        ("raise KeyError('no such thing')", "its builder raised KeyError"),
        ("pass", "program 'A.mine' raised RuntimeError: a workload's own program fails"),
        ("machine.store.set(('tamper',), 1)", "its builder changed model state"),
    ],
    ids=["builder", "program", "tampering-builder"],
)
def test_a_plugin_workload_runs_fenced(tmp_path, mode, said):
    path = tmp_path / "shaky.py"
    path.write_text(WORKLOAD_PLUGIN.replace("MODE", mode))
    cat = load_catalogue([str(path)], echo=False)
    outcome = Session(RunSpec(workload="shaky"), cat).lab.outcome
    assert outcome.result == "error"
    assert any("plugin 'shaky'" in e and said in e for e in outcome.errors), outcome.errors


HAND_RING = """
import struct
from hvlab.api import (Attack, AttackActor, BeginProbe, Call, EndProbe, HvCallCode, Read,
                       WaitUntil, Write, children_booted, hookimpl)

HEADER, DATA, CONNECTION = {header:#x}, {data:#x}, {connection:#x}

def program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("hand-ring", "A writes a packet claiming 4 KB into its own ring, by hand")
    raw = yield Read(HEADER, 4)
    write_at = struct.unpack("<I", raw)[0]
    packet = struct.pack("<HHHHQ", 6, 2, 0x1FF, 0, 0x77) + bytes(8)  # len8 past the ring
    yield Write(DATA + write_at, packet)
    yield Write(HEADER, struct.pack("<I", write_at + len(packet)))
    yield Call(HvCallCode.SIGNAL_EVENT, struct.pack("<I", CONNECTION) + bytes(4), fast=True)
    yield EndProbe()

@hookimpl
def hvlab_register_attacks(register):
    register(Attack(name="hand-ring", summary="a hand-written ring packet", workload="boot",
                    breach_sets="never", actors=lambda: [AttackActor("A.hand", "A", program)]))
"""


def test_a_packet_written_into_the_ring_by_hand_is_credited_to_its_probe(tmp_path):
    """The VSP's refusal of a packet the guest wrote with Write operations, not through the
    model's ring writer, belongs to the probe that wrote it: blocked, not error."""
    from hvlab.lab import Lab
    from hvlab.model.vmbus import channels as vmbus

    m = Lab("boot")._machine
    relid = next(
        r for r in vmbus.channels(m, vmbus.Device.STORAGE) if vmbus.chan(m, r, "owner") == 2
    )
    out_ring, _ = vmbus.rings(m, relid, "guest")
    connection = vmbus.signal_connection(m, 2, relid)
    path = tmp_path / "hand_ring.py"
    path.write_text(
        HAND_RING.format(header=out_ring.header, data=out_ring.data, connection=connection)
    )
    cat = load_catalogue([str(path)], echo=False)
    verdict = Session(RunSpec(workload="boot", attack="hand-ring"), cat).lab.outcome.probe(
        "hand-ring"
    )
    assert verdict.result == "blocked" and verdict.protection == "vsp-validates-input", verdict


def test_an_attack_on_availability_is_judged_unavailable(tmp_path):
    """A packet whose length runs past all the guest mapped: with vsp-validates-input on the
    VSP refuses it; off, the VSP's read faults and it stops serving every guest: unavailable,
    which the matrix counts as getting through."""
    from hvlab.lab import Lab
    from hvlab.matrix import matrix
    from hvlab.model.vmbus import channels as vmbus
    from hvlab.plugins import site_handler

    m = Lab("boot")._machine
    relid = next(
        r for r in vmbus.channels(m, vmbus.Device.STORAGE) if vmbus.chan(m, r, "owner") == 2
    )
    out_ring, _ = vmbus.rings(m, relid, "guest")
    source = HAND_RING.format(
        header=out_ring.header, data=out_ring.data, connection=vmbus.signal_connection(m, 2, relid)
    )
    source = (
        source.replace("0x1FF", "0xFFFF")
        .replace('name="hand-ring"', 'name="vsp-down"')
        .replace('BeginProbe("hand-ring"', 'BeginProbe("vsp-down"')
        .replace('breach_sets="never"', 'breach_sets=[{"vsp-validates-input"}]')
    )
    path = tmp_path / "vsp_down.py"
    path.write_text(source)
    cat = load_catalogue([str(path)], echo=False)
    on = Session(RunSpec(workload="boot", attack="vsp-down"), cat).lab.outcome.probe("vsp-down")
    assert on.result == "blocked" and on.protection == "vsp-validates-input"
    spec = RunSpec(workload="boot", attack="vsp-down", off=("vsp-validates-input",))
    lab = Session(spec, cat).lab
    off = lab.outcome.probe("vsp-down")
    assert off.result == "unavailable" and off.principal == "root.storvsp", off
    assert lab.outcome.result == "unavailable"
    [row] = matrix([cat.attacks["vsp-down"]], jobs=1, site_handler=site_handler(cat))
    for design, verdict in row.cells.items():  # the matrix judges it the same way, everywhere
        if "vsp-validates-input" not in design:
            assert verdict == "blocked", design
        elif "separate-address-spaces" not in design:  # the VSP's read faults only then
            assert verdict == "unavailable", design
    assert frozenset({"vsp-validates-input"}) in row.found  # unavailable counts as through
