"""A plugin that fails in any hook — raises, returns a value, or hangs — is named with the hook
in one line, and the session carries on with the rest of hvlab."""

import textwrap

import pytest

import hvlab.hookspecs
import hvlab.plugin_calls
import hvlab.plugins
from hvlab import hookdoc
from hvlab.cli import main

FAILURES = {
    "raise": "raise RuntimeError('plugin bug')",
    "return": "return 'unexpected'",
    "hang": "while True: pass",
}
EXPECT = {
    "raise": "RuntimeError: plugin bug",
    "return": "returned a value",
    "hang": "took longer than 0.2 s",
}

# What each hook needs around it to be reached, and the command that reaches it.
SETUP = {
    "hvlab_site_vmbus_packet": (
        """
        @hookimpl
        def hvlab_register_attacks(register):
            register(Attack("spy", "watch", "ping", (frozenset(),),
                            lambda: [AttackActor("root.installer", "root", program)],
                            drivers=("spy",)))

        def program(actor):
            yield WaitUntil(children_booted, "booted")
            yield BeginProbe("spy", "watch")
            yield LoadDriver("spy", "root")
            yield EndProbe()
        """,
        ["run", "ping", "--attack", "spy"],
    ),
    "hvlab_site_driver_load": (
        """
        @hookimpl
        def hvlab_register_defenses(register):
            register("failing-defense", "a defense with a bug")
        """,
        [
            "run",
            "ping",
            "--attack",
            "mitm-driver",
            "--off",
            "no-third-party-code",
            "guest-traffic-via-root",
            "driver-signing",
        ],
    ),
}
DEFENSE = """
        @hookimpl
        def hvlab_register_defenses(register):
            register("failing-defense", "a defense with a bug")
        """
for _hook, _command in (
    ("hvlab_site_hypercall", ["run", "ping"]),
    ("hvlab_site_memory_access", ["run", "ping"]),
    ("hvlab_site_port_io", ["run", "ide-port-io"]),
    ("hvlab_site_vsp_packet", ["run", "ping"]),
    ("hvlab_site_vmbus_message", ["run", "ping"]),
):
    SETUP[_hook] = (DEFENSE, _command)
HEADER = """
from hvlab.hookspecs import hookimpl
from hvlab.model.core.attacks import Attack, AttackActor
from hvlab.model.core.engine import BeginProbe, EndProbe, LoadDriver, WaitUntil
from hvlab.model.scenarios.workloads import children_booted
"""


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("hook", [f.__name__ for f in hookdoc.hooks()])
def test_failure_in_any_hook_is_named_and_contained(tmp_path, capsys, monkeypatch, hook, failure):
    monkeypatch.setattr(hvlab.plugin_calls, "TIME_LIMIT", 0.2)
    params = [
        p
        for p in getattr(hvlab.hookspecs, hook).__code__.co_varnames[
            : getattr(hvlab.hookspecs, hook).__code__.co_argcount
        ]
    ]
    setup, command = SETUP.get(hook, ("", ["run", "boot"]))
    body = textwrap.dedent(setup) + textwrap.dedent(f"""
        @hookimpl
        def {hook}({", ".join(params)}):
            {FAILURES[failure]}
        """)
    path = tmp_path / "failing.py"
    path.write_text(HEADER + body)
    code = main([*command, "--plugin", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1) and "outcome:" in out, (hook, failure, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, lines
    assert "plugin 'failing'" in lines[0] and hook in lines[0] and EXPECT[failure] in lines[0]
