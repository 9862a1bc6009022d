"""`hvlab new plugin NAME`: an installable plugin package with its entry point and a test;
`hvlab new lesson ID`: a lesson file that `hvlab check` accepts."""

from __future__ import annotations

import re
from pathlib import Path

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")  # fullmatch: a whole name, no trailing newline

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "hvlab-{name}"
version = "0.1.0"
description = "An hvlab attack plugin: {name}"
requires-python = ">=3.11"
dependencies = ["hvlab"]

[project.optional-dependencies]
test = ["pytest"]

# hvlab finds the plugin through this entry point once the package is installed.
[project.entry-points.hvlab]
{name} = "{module}"

[tool.hatch.build.targets.wheel]
packages = ["{module}"]
"""

MODULE = '''\
"""hvlab plugin {name}: guest A learns which library build guest B runs, through page
combining: it builds each page B might hold, makes the root short of memory, then writes to
each guess again — a guess combined with B's page waits for a copy-on-write.

Edit `program` to change what the attack does, and `breach_sets` to say which protections must
be switched off for it to get through; `hvlab matrix` checks the claim under every design.
"""

from hvlab.api import (
    LIBRARY_BUILDS,
    PAGE_SIZE,
    Attack,
    AttackActor,
    BeginProbe,
    EndProbe,
    Read,
    WaitUntil,
    Write,
    children_booted,
    hookimpl,
)

__version__ = "0.1.0"
ATTACK = "{name}"


def program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe(ATTACK, "A guesses which library build B runs")
    guesses = [(24 + n) * PAGE_SIZE for n in range(len(LIBRARY_BUILDS))]
    for gpa, page in zip(guesses, LIBRARY_BUILDS):
        yield Write(gpa, page)  # a page B might hold, on a free page of A's
    yield Read(32 * PAGE_SIZE, 16)  # above A's RAM: the root must find a frame
    for gpa in guesses:
        yield Write(gpa + 8, b"\\x01")  # a right guess waits for a copy-on-write
    yield EndProbe()


@hookimpl
def hvlab_register_attacks(register):
    register(
        Attack(
            name=ATTACK,
            summary="guest A learns which library build guest B runs, through page combining",
            workload="boot",
            breach_sets=(frozenset({{"exclusive-guest-memory"}}),),
            actors=lambda: [AttackActor("A.{name}", "A", program)],
        )
    )
'''

TEST = '''\
"""The plugin loads through its entry point and keeps its contract under every design."""

from hvlab.matrix import matrix
from hvlab.plugins import load_catalogue, site_handler


def test_{ident}_loads_and_keeps_its_contract():
    cat = load_catalogue()
    assert cat.errors == []
    attack = cat.attack("{name}")
    assert attack.plugin == "{name}"
    (row,) = matrix([attack], jobs=1, site_handler=site_handler(cat))
    assert row.matches, (row.found, row.declared)
'''

README = """\
# hvlab-{name}

An hvlab attack plugin. Install it next to hvlab and run it:

    pip install -e '.[test]'
    hvlab plugins                      # lists {name}
    hvlab run boot --attack {name}     # blocked by exclusive-guest-memory
    hvlab run boot --attack {name} --off exclusive-guest-memory   # breached
    pytest
"""


class ScaffoldError(ValueError):
    pass


def target(what: str, name: str, path: Path) -> Path:
    """`path` for a new NAME, after checking the name and that nothing is there yet."""
    if not NAME.fullmatch(name):
        raise ScaffoldError(
            f"{what} {name!r} must be lower-case letters and digits, words joined by '-'"
        )
    if path.exists():
        raise ScaffoldError(f"{path} already exists; choose another name or folder")
    return path


def new_plugin(name: str, where: Path) -> Path:
    root = target("plugin name", name, where / f"hvlab-{name}")
    module = "hvlab_" + name.replace("-", "_")
    files = {
        root / "pyproject.toml": PYPROJECT.format(name=name, module=module),
        root / module / "__init__.py": MODULE.format(name=name),
        root / "tests" / f"test_{module}.py": TEST.format(name=name, ident=module),
        root / "README.md": README.format(name=name),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


LESSON = '''\
schema_version = 1
id = "{name}"
title = "{title}"
summary = "One sentence: what the learner will see."
prerequisites = ["tour"]

[[steps]]
title = "The attack, with the protection on"
narration = """
Say what the run shows and what to look for. Markdown works: **bold**, `code`, lists.
"""
action = {{ run = "boot", attack = "hv-read" }}
predict = {{ prompt = "What happens?", choices = ["It gets through", "It is blocked"], answer = 1 }}
hints = [
  "A nudge.",
  "A pointer to a pane or a step: x jumps to the next decision.",
  "A walkthrough.",
  "The reveal: press e, the run ends blocked.",
]
goal = {{ attack = "hv-read", result = "blocked", by = "separate-address-spaces" }}
solution = ["end"]

# Moves that must NOT reach that step's goal: `hvlab check` fails the lesson if they do.
[known_bad]
step = 1
moves = ["step 1"]
'''


def new_lesson(name: str, where: Path) -> Path:
    """Write ID.toml: a one-step lesson that `hvlab check` accepts, to edit from there."""
    path = target("lesson id", name, where / f"{name}.toml")
    where.mkdir(parents=True, exist_ok=True)
    title = name.replace("-", " ").capitalize()
    path.write_text(LESSON.format(name=name, title=title))
    return path
