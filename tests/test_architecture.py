"""The code's layout mirrors the machine: the model's packages are layers, each importing only
the ones below it (guest and root never each other), nothing in hvlab imports in a cycle, no
module is much over 400 lines, and plugins reach hvlab only through hvlab.api.

Imports are read from the source with `ast`, every one of them — at the top, inside functions,
and under `if TYPE_CHECKING:` (for the layers: a type named from a layer above is a dependency
on it all the same). Cycles are looked for among the imports that run: a name imported only for
type checking is never executed, so it cannot make one."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top. A module may import its own layer and those below; see SIDE_BY_SIDE.
LAYERS = ("core", "hardware", "hypervisor", "vmbus", "root|guest", "scenarios", "system")
SIDE_BY_SIDE = {"root", "guest"}  # on one level, and they meet only through vmbus and hypercalls
MAX_LINES = 420


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(folder: str, root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / folder).rglob("*.py"))}


def type_checking_lines(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(module imported, line, runs) for every import of a module in `known` in the file."""
    name = next(m for m, p in known.items() if p == path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from pkg import mod` imports the module; `from mod import name` the module
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for target in targets:
            if target in known and target != name:
                found.append((target, node.lineno, node.lineno not in typing_only))
    return found


def layer_of(module: str) -> tuple[int, str] | None:
    """(level, package) of a module of hvlab.model; None outside the model."""
    if not module.startswith("hvlab.model"):
        return None
    rest = module.split(".")[2:]
    package = rest[0] if rest else "system"
    if package not in {p for layer in LAYERS for p in layer.split("|")}:
        package = "system"  # modules right under hvlab/model assemble the layers: the top
    level = next(i for i, layer in enumerate(LAYERS) if package in layer.split("|"))
    return level, package


HVLAB = modules("hvlab")


def upward_imports(known: dict[str, Path]) -> list[str]:
    bad = []
    for module, path in known.items():
        here = layer_of(module)
        if here is None:
            continue
        for target, line, _ in imports(path, known):
            there = layer_of(target)
            where = f"{'/'.join(path.parts[-3:])}:{line}"
            if there is None:
                bad.append(f"{where}: the model imports {target}, outside hvlab.model")
            elif there[0] > here[0]:
                bad.append(
                    f"{where}: {here[1]} ({module}) imports {there[1]} ({target}), a layer above"
                )
            elif here[1] != there[1] and {here[1], there[1]} == SIDE_BY_SIDE:
                bad.append(
                    f"{where}: {module} imports {target}; root and guest meet only through vmbus"
                )
    return bad


def cycles(known: dict[str, Path]) -> list[list[str]]:
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for module, path in known.items():
        graph.add_edges_from((module, t) for t, _, runs in imports(path, known) if runs)
    return sorted(sorted(c) for c in nx.simple_cycles(graph))


def test_no_package_of_the_model_imports_a_layer_above_it():
    assert upward_imports(HVLAB) == []


def test_nothing_in_hvlab_imports_in_a_cycle():
    assert cycles(HVLAB) == []


def test_every_layer_is_a_package_that_says_what_it_is_in_the_machine():
    for layer in LAYERS[:-1]:
        for package in layer.split("|"):
            init = ROOT / "hvlab" / "model" / package / "__init__.py"
            doc = ast.get_docstring(ast.parse(init.read_text())) if init.exists() else None
            assert doc and len(doc.split()) >= 8, f"hvlab/model/{package}/__init__.py says nothing"


@pytest.mark.parametrize("module", sorted(HVLAB), ids=str)
def test_no_module_is_much_over_four_hundred_lines(module):
    lines = len(HVLAB[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{HVLAB[module].relative_to(ROOT)} has {lines} lines"


def test_plugins_and_examples_import_only_the_api():
    api = {"hvlab.api"}
    for folder in ("plugins", "docs/examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                for name in names:
                    if name == "hvlab" or name.startswith("hvlab."):
                        assert name in api, f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"


# The checks above, shown to fail on trees that break each rule (so they cannot pass by accident).
def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path):
    fake = tmp_path / "hvlab" / "model"
    for package in ("core", "root", "guest"):
        (fake / package).mkdir(parents=True)
        (fake / package / "__init__.py").write_text('"""x"""\n')
    (fake / "__init__.py").write_text("")
    (fake / "core" / "engine.py").write_text("from hvlab.model.root import vid\n")
    (fake / "root" / "vid.py").write_text("from hvlab.model.guest import vsc\n")
    (fake / "guest" / "vsc.py").write_text("from hvlab.model.core import engine\n")
    known = modules("hvlab", tmp_path)
    problems = upward_imports(known)
    found = cycles(known)
    assert any("core (hvlab.model.core.engine) imports root" in p for p in problems)
    assert any("root and guest meet only through vmbus" in p for p in problems)
    assert found == [["hvlab.model.core.engine", "hvlab.model.guest.vsc", "hvlab.model.root.vid"]]
