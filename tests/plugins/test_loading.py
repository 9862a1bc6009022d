"""Loading plugins: every kind of broken plugin is reported in one line naming it, and the lab
still starts; plugins that raise while called are attributed and blocked; hooks reach plugins."""

import textwrap

import pytest

from hvlab.cli import main
from hvlab.plugins import load_catalogue

HEADER = """
from hvlab.hookspecs import hookimpl
from hvlab.model.core.attacks import Attack, AttackActor
from hvlab.model.core.engine import BeginProbe, EndProbe, Read, WaitUntil
from hvlab.model.scenarios.workloads import children_booted
"""


def plugin(tmp_path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


BROKEN = {
    "misspelled": (
        """
        @hookimpl
        def hvlab_registr_attacks(register):
            pass
        """,
        "misspelled",
        "hvlab_registr_attacks",
    ),
    "badsig": (
        """
        @hookimpl
        def hvlab_register_attacks(register, extra):
            pass
        """,
        "badsig",
        "extra",
    ),
    "duplicate": (
        """
        @hookimpl
        def hvlab_register_attacks(register):
            register(Attack("hv-read", "again", "boot", (), lambda: []))
        """,
        "duplicate",
        "already registered by plugin 'hvlab-attacks'",
    ),
    "importerror": (
        """
        import no_such_module_anywhere
        """,
        "importerror.py:7",
        "ModuleNotFoundError",
    ),
    "unknownprotection": (
        """
        @hookimpl
        def hvlab_register_attacks(register):
            register(Attack("x", "x", "boot", (frozenset({"warp-drive"}),), lambda: []))
        """,
        "unknownprotection",
        "unknown protection 'warp-drive'",
    ),
    "notanattack": (
        """
        @hookimpl
        def hvlab_register_attacks(register):
            register({"name": "x"})
        """,
        "notanattack",
        "takes an Attack",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_plugin_is_one_line_and_the_lab_still_runs(tmp_path, capsys, kind):
    body, who, what = BROKEN[kind]
    path = plugin(tmp_path, kind, body)
    cat = load_catalogue([path])
    assert len(cat.errors) == 1, cat.errors
    assert who in cat.errors[0] and what in cat.errors[0]
    assert "\n" not in cat.errors[0]
    assert "hv-read" in cat.attacks and cat.attacks["hv-read"].plugin == "hvlab-attacks"
    code = main(["run", "boot", "--plugin", path])
    out, err = capsys.readouterr()
    assert code == 0 and "outcome: ok" in out
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_plugin_file(capsys):
    assert main(["run", "boot", "--plugin", "/no/such/plugin.py"]) == 0
    assert "plugin file /no/such/plugin.py: no such file" in capsys.readouterr().err


def test_disable_plugins_blocks_by_name(monkeypatch):
    monkeypatch.setenv("HVLAB_DISABLE_PLUGINS", "hvlab-attacks")
    assert load_catalogue().attacks == {}


def test_trace_plugins_writes_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("HVLAB_TRACE_PLUGINS", "1")
    load_catalogue().manager.hook.hvlab_lab_started(info={})
    assert "hvlab_lab_started" in capsys.readouterr().err


LIFECYCLE = """
seen = []

@hookimpl
def hvlab_lab_started(info):
    seen.append(("started", info["workload"]))

@hookimpl
def hvlab_event(event):
    seen.append(event.kind)

@hookimpl
def hvlab_lab_finished(info, outcome):
    seen.append(("finished", info["events"], outcome.result))
    print("observer saw", len(seen), "calls")
"""


def test_observer_and_lifecycle_hooks_are_called(tmp_path, capsys):
    path = plugin(tmp_path, "observer", LIFECYCLE)
    assert main(["run", "boot", "--plugin", path]) == 0
    out = capsys.readouterr().out
    events = int(out.split("observer saw ")[1].split()[0]) - 2
    assert events > 400


RAISING = """
@hookimpl
def hvlab_event(event):
    if event.step == 10:
        raise RuntimeError("observer bug")

@hookimpl
def hvlab_lab_finished(info, outcome):
    raise AssertionError("never reached: blocked after the first failure")
"""


def test_a_raising_observer_is_attributed_blocked_and_the_run_goes_on(tmp_path, capsys):
    path = plugin(tmp_path, "raiser", RAISING)
    assert main(["run", "boot", "--plugin", path]) == 0
    out, err = capsys.readouterr()
    assert "outcome: ok" in out
    assert err.strip().splitlines() == [
        "hvlab: plugin 'raiser' raised RuntimeError: observer bug in hvlab_event; "
        "blocked for this session"
    ]


def test_plugin_registered_workload_and_attack(tmp_path, capsys):
    path = plugin(
        tmp_path,
        "extra",
        """
        from hvlab.model.scenarios.workloads import boot

        def program(actor):
            yield WaitUntil(children_booted, "booted")
            yield BeginProbe("reader", "A reads its own secret page")
            yield Read(20 * 4096, 16)
            yield EndProbe()

        @hookimpl
        def hvlab_register_workloads(register):
            register("quiet-boot", lambda machine, **_: boot(machine), "boot, by a plugin")

        @hookimpl
        def hvlab_register_attacks(register):
            register(Attack("reader", "A reads itself", "quiet-boot", (),
                            lambda: [AttackActor("A.reader", "A", program)]))
        """,
    )
    assert main(["run", "quiet-boot", "--plugin", path, "--attack", "reader"]) == 1
    out = capsys.readouterr().out
    assert "reader                 error: ended with neither a breach nor a protection" in out


def test_example_package_loads_through_its_entry_point(tmp_path, monkeypatch):
    """Install the example's module and metadata on a path importlib.metadata searches, as pip
    would, and check hvlab finds it through the `hvlab` entry-point group."""
    import shutil
    import sys
    import tomllib
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hvlab-root-reader"
    meta = tomllib.loads((example / "pyproject.toml").read_text())["project"]
    shutil.copy(example / "hvlab_root_reader.py", tmp_path)
    info = tmp_path / f"hvlab_root_reader-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    (info / "entry_points.txt").write_text(
        "[hvlab]\n" + "".join(f"{k} = {v}\n" for k, v in meta["entry-points"]["hvlab"].items())
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cat = load_catalogue()
    assert cat.errors == []
    found = {p.name: p for p in cat.plugins}
    assert found["root-reader"].source == "entry point" and found["root-reader"].version == "0.1.0"
    assert cat.attacks["root-driver-reads-a"].plugin == "root-reader"
    sys.modules.pop("hvlab_root_reader", None)


SITE_PLUGIN = """
from hvlab.model.core.engine import LoadDriver

def program(actor):
    yield WaitUntil(children_booted, "booted")
    yield BeginProbe("spy", "a root driver watches the switch")
    yield LoadDriver("spy", "root")
    yield EndProbe()

@hookimpl
def hvlab_register_attacks(register):
    register(Attack("spy", "a root driver watches the switch", "ping", (frozenset(),),
                    lambda: [AttackActor("root.installer", "root", program)], drivers=("spy",)))

@hookimpl
def hvlab_site_vmbus_packet(ctx):
    BEHAVIOUR(ctx)
"""


def run_site_plugin(tmp_path, capsys, behaviour: str):
    path = plugin(tmp_path, "spyplugin", SITE_PLUGIN.replace("BEHAVIOUR(ctx)", behaviour))
    code = main(["run", "ping", "--plugin", path, "--attack", "spy"])
    out, err = capsys.readouterr()
    return code, out, err


def test_site_hook_reaches_the_owner_of_an_installed_driver(tmp_path, capsys):
    code, out, err = run_site_plugin(tmp_path, capsys, "ctx.observe()")
    assert code == 0 and err == ""
    assert "spy                    BREACHED: B-traffic reached root.driver:spy" in out


def test_raising_site_hook_is_attributed_and_the_run_goes_on(tmp_path, capsys):
    code, out, err = run_site_plugin(tmp_path, capsys, "raise KeyError('oops')")
    assert code == 1 and "spy                    error:" in out  # the run ends as error
    # the plugin's own line that raised, for its author
    said = "plugin 'spyplugin' raised KeyError: 'oops' (spyplugin.py:22) in hvlab_site_vmbus_packet"
    assert said in err
    assert err.count("\n") == 1 and "outcome:" in out


def test_site_hook_that_changes_model_state_is_caught_and_undone(tmp_path, capsys):
    code, out, err = run_site_plugin(
        tmp_path, capsys, "ctx._state.m.store.data[('frame', 0)] = ('spyplugin', 'stolen')"
    )
    assert code == 1
    assert "plugin 'spyplugin' changed model state behind the API" in err
    assert "outcome:" in out


def test_site_hook_returning_a_value_is_reported(tmp_path, capsys):
    code, out, err = run_site_plugin(tmp_path, capsys, "return 42")
    assert code == 1 and "outcome: error" in out
    assert "returned a value where none is expected" in err


def test_hanging_site_hook_is_stopped_by_the_time_limit(tmp_path, capsys, monkeypatch):
    import hvlab.plugin_calls

    monkeypatch.setattr(hvlab.plugin_calls, "TIME_LIMIT", 0.2)
    code, out, err = run_site_plugin(tmp_path, capsys, "while True: pass")
    assert code == 1
    assert "raised PluginTimeoutError: took longer than 0.2 s (spyplugin.py:22)" in err
    assert "outcome:" in out


DEFENSE_PLUGIN = """
@hookimpl
def hvlab_register_defenses(register):
    register("no-drivers-at-all", "Nothing loads into the hypervisor, signed or not.")

@hookimpl
def hvlab_site_driver_load(ctx):
    if ctx.defense == "no-drivers-at-all":
        ctx.refuse("this design takes no drivers")
"""


def test_a_plugin_defense_is_a_protection_like_the_built_ins(tmp_path, capsys):
    path = plugin(tmp_path, "nodrivers", DEFENSE_PLUGIN)
    off = ["--off", "no-third-party-code", "guest-traffic-via-root", "driver-signing"]
    assert main(["run", "ping", "--plugin", path, "--attack", "mitm-driver", *off]) == 0
    assert "blocked by no-drivers-at-all" in capsys.readouterr().out
    assert (
        main(
            ["run", "ping", "--plugin", path, "--attack", "mitm-driver", *off, "no-drivers-at-all"]
        )
        == 0
    )
    assert "BREACHED" in capsys.readouterr().out


def test_a_defense_id_cannot_be_taken_twice(tmp_path):
    path = plugin(
        tmp_path,
        "again",
        """
        @hookimpl
        def hvlab_register_defenses(register):
            register("mediated-io", "mine now")
        """,
    )
    cat = load_catalogue([path])
    assert cat.errors == [
        "plugin 'again' raised in hvlab_register_defenses: ValueError: "
        "protection 'mediated-io' is already defined by hvlab"
    ]


def test_site_capabilities_modify_and_drop_are_events(tmp_path, capsys):
    code, _out, err = run_site_plugin(tmp_path, capsys, "ctx.modify(b'tampered')")
    assert err == "" and code == 1  # it learned nothing: no breach, no protection decided
    path = tmp_path / "spyplugin.py"
    from hvlab.lab import Lab
    from hvlab.plugins import site_handler

    cat = load_catalogue([str(path)])
    lab = Lab("ping", attack=cat.attack("spy"), site_handler=site_handler(cat))
    lab.run()
    modified = [e for e in lab.events if e.name == "modify-frame"]
    switched = [e for e in lab.events if e.name == "switch-frame"]
    assert modified and modified[0].actor == "root.driver:spy"
    after = [e for e in switched if e.step > modified[0].step]
    assert after[0].detail_dict()["length"] == len(b"tampered")
    path.write_text(path.read_text().replace("ctx.modify(b'tampered')", "ctx.drop()"))
    cat = load_catalogue([str(path)])
    lab = Lab("ping", attack=cat.attack("spy"), site_handler=site_handler(cat))
    outcome = lab.run()
    assert [e for e in lab.events if e.name == "drop-frame"]
    assert not [e for e in lab.events if e.name == "switch-frame"]
    assert not outcome.completed  # A waits for an answer that never comes


def test_attack_programs_get_a_handle_not_the_machine(tmp_path, capsys):
    path = plugin(
        tmp_path,
        "curious",
        """
        def program(actor):
            assert (actor.name, actor.partition) == ("A.curious", "A")
            assert not hasattr(actor, "machine") and not hasattr(actor, "store")
            yield WaitUntil(children_booted, "booted")
            yield BeginProbe("curious", "A reads where B keeps its secret")
            yield Read(40 * 4096, 16)
            yield EndProbe()

        @hookimpl
        def hvlab_register_attacks(register):
            sets = (frozenset({"exclusive-guest-memory"}),)
            register(Attack("curious", "A reads B", "boot", sets,
                            lambda: [AttackActor("A.curious", "A", program)]))
        """,
    )
    assert main(["run", "boot", "--plugin", path, "--attack", "curious"]) == 0
    assert "curious                blocked by exclusive-guest-memory" in capsys.readouterr().out


def test_plugins_lists_a_file_plugin_with_its_version(capsys):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hvlab-root-reader"
    assert main(["plugins", "--plugin", str(example / "hvlab_root_reader.py")]) == 0
    out = capsys.readouterr().out
    assert f"hvlab_root_reader 0.1.0  ({example / 'hvlab_root_reader.py'})" in out
    assert "attacks: root-driver-reads-a" in out
