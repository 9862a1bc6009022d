"""`hvlab plugins` and `hvlab new`: what is loaded, and scaffolds for plugins and lessons."""

from __future__ import annotations

import argparse

from hvlab.commands.common import UsageError, catalogue_from


def cmd_plugins(args: argparse.Namespace) -> int:
    cat = catalogue_from(args)
    for info in cat.plugins:
        plugin = cat.manager.get_plugin(info.name)
        hooks = sorted(h.name for h in cat.manager.get_hookcallers(plugin) or [])
        attacks = sorted(a.name for a in cat.attacks.values() if a.plugin == info.name)
        drivers = sorted(d for d, owner in cat.driver_owners.items() if owner == info.name)
        version = f" {info.version}" if info.version else ""
        print(f"{info.name}{version}  ({info.source})")
        print(f"  hooks:   {', '.join(hooks) or '-'}")
        print(f"  attacks: {', '.join(attacks) or '-'}")
        if drivers:  # what it may install at sites, or the defenses it runs there
            print(f"  sites:   {', '.join(drivers)}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hvlab.scaffold import ScaffoldError, new_lesson, new_plugin

    try:
        if args.what == "lesson":
            path = new_lesson(args.name, Path(args.dir))
            print(f"created {path}: edit it, then hvlab check {path}")
            return 0
        root = new_plugin(args.name, Path(args.dir))
    except (ScaffoldError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(f"created {root}: cd there, pip install -e '.[test]', then hvlab plugins")
    return 0
