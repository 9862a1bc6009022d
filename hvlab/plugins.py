"""Building the plugin manager, and the catalogue of attacks and workloads it yields.

Plugins come from three places: the built-in package `hvlab_attacks` (shipped in the wheel),
installed packages' entry points in the group `hvlab`, and files named with `--plugin PATH`.
`HVLAB_DISABLE_PLUGINS=a,b` blocks plugins by name; `HVLAB_TRACE_PLUGINS=1` traces hook calls
to stderr. A plugin that cannot load is reported in one line naming it, and left out; the lab
goes on without it.

In-process Python plugins cannot be sandboxed. What hvlab catches is mistakes and naive
tampering, not a determined author.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from hvlab import hookspecs
from hvlab.model.core.attacks import Attack, AttackError, check
from hvlab.model.scenarios.workloads import WORKLOADS, Workload
from hvlab.plugin_calls import SITE_HOOKS as SITE_HOOKS  # the calls into plugins, named here
from hvlab.plugin_calls import finish_run as finish_run
from hvlab.plugin_calls import guarded, one_line, plugin_code
from hvlab.plugin_calls import site_handler as site_handler
from hvlab.plugin_calls import start_run as start_run
from hvlab.userfiles import InputFileError, has_unsafe, missing, read_file, shown

BUILTIN = "hvlab-attacks"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")  # attack and defense ids: typed on command lines
BUILTIN_DEFENSES = "hvlab-defenses"


@dataclass
class PluginInfo:
    name: str
    source: str  # "built-in", "entry point", or the file path
    version: str = ""


@dataclass
class Catalogue:
    """What the loaded plugins offer, and what went wrong loading them."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    attacks: dict[str, Attack] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    driver_owners: dict[str, str] = field(default_factory=dict)
    defenses: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (principle, plugin)
    canaries: list = field(default_factory=list)  # PluginCanary records, in load order
    echo: bool = True  # print plugin errors to stderr as they happen
    slot_handler: Any = None  # an exercise's learner's check, put in the model's place

    @property
    def extra_protections(self) -> tuple[str, ...]:
        return tuple(self.defenses)

    def attack(self, name: str) -> Attack:
        if name not in self.attacks:
            raise KeyError(f"unknown attack '{name}' (valid: {', '.join(self.attacks) or 'none'})")
        return self.attacks[name]


def get_plugin_manager(files: list[str] | tuple[str, ...] = (), *, entry_points: bool = True):
    """A fresh manager with hvlab's hooks, the built-ins, entry points and `files` loaded.
    Returns (manager, plugin infos, load errors)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in filter(None, os.environ.get("HVLAB_DISABLE_PLUGINS", "").split(",")):
        pm.set_blocked(name.strip())
    if os.environ.get("HVLAB_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda text: sys.stderr.write(text))
        pm.enable_tracing()
    infos: list[PluginInfo] = []
    errors: list[str] = []

    def add(plugin: Any, name: str, source: str, version: str = "") -> None:
        if pm.is_blocked(name):
            return
        if pm.get_plugin(name) is not None:
            first = next((i.source for i in infos if i.name == name), "hvlab")
            errors.append(
                f"plugin '{name}' ({shown(source)}): a plugin of that name is already loaded "
                f"(from {shown(first)}); rename the file"
            )
            return
        try:
            pm.register(plugin, name=name)
            pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if pm.get_plugin(name) is plugin:
                pm.unregister(name=name)
            errors.append(
                f"plugin '{name}' ({shown(source)}): {one_line(exc)}; fix it or remove it"
            )
            return
        infos.append(PluginInfo(name, source, version))

    import hvlab_attacks
    import hvlab_defenses

    add(hvlab_attacks, BUILTIN, "built-in", hvlab_attacks.__version__)
    add(hvlab_defenses, BUILTIN_DEFENSES, "built-in", hvlab_defenses.__version__)
    if entry_points:
        from importlib.metadata import entry_points as eps

        for ep in sorted(eps(group=hookspecs.PROJECT), key=lambda e: e.name):
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                with plugin_code():
                    plugin = ep.load()
            except Exception as exc:  # any error in someone else's import
                errors.append(
                    f"plugin '{ep.name}' (entry point {ep.value}): cannot import: {one_line(exc)}"
                )
                continue
            version = ep.dist.version if ep.dist else ""
            add(plugin, ep.name, "entry point", version)
    for path in files:
        if has_unsafe(Path(path).stem):
            errors.append(
                f"plugin file {shown(path)}: its name holds a control character; rename the file"
            )
            continue
        module, error = load_file(path)
        if error:
            errors.append(error)
        else:
            add(module, Path(path).stem, str(path), str(getattr(module, "__version__", "")))
    return pm, infos, errors


def load_file(path: str):
    """Import a plugin file. Returns (module, None) or (None, one-line error)."""
    file = Path(path)
    problem = missing(file, "file")
    if problem:
        return None, f"plugin file {problem}"
    try:
        read_file(file, "plugin file")  # a regular file of sane size, before Python opens it
    except InputFileError as exc:
        return None, f"plugin file {exc}"
    if file.suffix != ".py":
        return None, f"plugin file {shown(path)}: not a .py file; a plugin file is Python source"
    name = f"hvlab_plugin_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    try:
        with plugin_code():
            spec.loader.exec_module(module)
    except Exception as exc:
        line = next(
            (
                f.lineno
                for f in reversed(traceback.extract_tb(exc.__traceback__))
                if Path(f.filename) == file.resolve() or f.filename == str(file)
            ),
            None,
        )
        where = f"{shown(path)}:{line}" if line else shown(path)
        return None, f"plugin file {where}: cannot import: {one_line(exc)}"
    return module, None


def load_catalogue(
    files: list[str] | tuple[str, ...] = (), *, entry_points: bool = True, echo: bool = True
) -> Catalogue:
    """Load plugins and collect what they register, attributing every error to its plugin.

    `echo=False` keeps plugin trouble off stderr (the TUI shows it as notifications instead)."""
    pm, infos, errors = get_plugin_manager(files, entry_points=entry_points)
    cat = Catalogue(pm, infos, errors=errors, echo=echo)
    cat.workloads.update(WORKLOADS)
    for impl in pm.hook.hvlab_register_workloads.get_hookimpls():
        _collect(
            cat,
            impl,
            "hvlab_register_workloads",
            lambda name, build, summary, p=impl.plugin_name: _add_workload(
                cat, p, name, build, summary
            ),
        )
    for impl in pm.hook.hvlab_register_defenses.get_hookimpls():
        _collect(
            cat,
            impl,
            "hvlab_register_defenses",
            lambda pid, principle, p=impl.plugin_name: _add_defense(cat, p, pid, principle),
        )
    for impl in pm.hook.hvlab_register_canaries.get_hookimpls():
        _collect(
            cat,
            impl,
            "hvlab_register_canaries",
            lambda *args, p=impl.plugin_name, **kwargs: _add_canary(cat, p, *args, **kwargs),
        )
    for impl in pm.hook.hvlab_register_attacks.get_hookimpls():
        _collect(
            cat,
            impl,
            "hvlab_register_attacks",
            lambda attack, p=impl.plugin_name: _add_attack(cat, p, attack),
        )
    return cat


def _collect(cat: Catalogue, impl, hook: str, register: Callable) -> None:
    try:
        result = guarded(impl.function, register=register)
    except Exception as exc:
        cat.errors.append(f"plugin '{impl.plugin_name}' raised in {hook}: {one_line(exc)}")
        return
    if result is not None:
        cat.errors.append(
            f"plugin '{impl.plugin_name}' returned a value from {hook}; "
            "register() what it offers instead"
        )


def _add_workload(cat: Catalogue, plugin: str, name: str, build: Callable, summary: str) -> None:
    if name in cat.workloads:
        raise ValueError(f"workload '{name}' is already registered")
    cat.workloads[name] = Workload(name, build, summary, plugin)


def _add_defense(cat: Catalogue, plugin: str, pid: str, principle: str) -> None:
    from hvlab.model.core.protections import PRINCIPLES

    if not isinstance(pid, str) or not NAME.fullmatch(pid):
        raise ValueError(
            f"defense id {pid!r} must be lowercase letters, digits and dashes, like "
            "'driver-signing'"
        )
    if not isinstance(principle, str) or has_unsafe(principle):
        raise ValueError(f"defense '{pid}': its principle must be one line of plain text")
    if pid in PRINCIPLES or pid in cat.defenses:
        other = "hvlab" if pid in PRINCIPLES else cat.defenses[pid][1]
        raise ValueError(f"protection '{pid}' is already defined by {other}")
    cat.defenses[pid] = (principle, plugin)
    cat.driver_owners[f"defense:{pid}"] = plugin


def _add_canary(cat, plugin, name, where, gpa, readers=None, writers=None) -> None:
    from hvlab.model.core.canaries import PluginCanary

    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"canary name {name!r} must be lowercase letters, digits and dashes")
    if any(c.name == name for c in cat.canaries) or name in ("hv-secret", "hv-code", "B-disk"):
        raise ValueError(f"canary '{name}' is already registered")
    if where not in ("root", "hypervisor"):
        raise ValueError(f"canary '{name}': where must be 'root' or 'hypervisor', not {where!r}")
    if not isinstance(gpa, int) or isinstance(gpa, bool) or not 0 <= gpa < 1024 * 4096:
        raise ValueError(f"canary '{name}': gpa must be an address in the machine, not {gpa!r}")
    if readers is None and writers is None:
        raise ValueError(f"canary '{name}': give readers (a secret), writers (a marker) or both")
    for what, who in (("readers", readers), ("writers", writers)):
        if who is not None and (isinstance(who, str) or not all(isinstance(x, str) for x in who)):
            raise ValueError(f"canary '{name}': {what} must be a list of principals")
    cat.canaries.append(
        PluginCanary(
            name, where, gpa,
            tuple(readers) if readers is not None else None,
            tuple(writers) if writers is not None else None,
            plugin,
        )
    )  # fmt: skip


def _add_attack(cat: Catalogue, plugin: str, attack: Attack) -> None:
    if not isinstance(attack, Attack):
        raise TypeError(f"register() takes an Attack, not {type(attack).__name__}")
    if not isinstance(attack.name, str) or not NAME.fullmatch(attack.name):
        raise ValueError(
            f"attack name {attack.name!r} must be lowercase letters, digits and dashes, like "
            "'mitm-driver'"
        )
    if not isinstance(attack.summary, str) or has_unsafe(attack.summary.replace("\n", " ")):
        raise ValueError(f"attack '{attack.name}': its summary must be plain text")
    attack = Attack(**{**attack.__dict__, "plugin": plugin})
    if attack.name in cat.attacks:
        other = cat.attacks[attack.name].plugin
        raise ValueError(f"attack '{attack.name}' is already registered by plugin '{other}'")
    if attack.workload not in cat.workloads:
        raise AttackError(f"attack '{attack.name}' rides on unknown workload '{attack.workload}'")
    check(attack, cat.extra_protections)
    cat.attacks[attack.name] = attack
    for driver in attack.drivers:
        cat.driver_owners.setdefault(driver, plugin)
