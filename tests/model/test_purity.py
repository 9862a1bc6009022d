"""The model stays pure, and the command line starts without the heavy UI and graph libraries."""

import subprocess
import sys

HEAVY = ("textual", "pluggy", "rich", "pygments", "networkx")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


def test_model_imports_no_ui_or_plugin_library():
    mods = loaded_after(
        "import pkgutil, importlib, hvlab.model\n"
        "for m in pkgutil.iter_modules(hvlab.model.__path__):\n"
        "    importlib.import_module('hvlab.model.' + m.name)"
    )
    assert "hvlab" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_cli_run_imports_neither_textual_nor_networkx():
    mods = loaded_after("from hvlab.cli import main\nmain(['run', 'boot', '--json'])")
    assert not mods & {"textual", "networkx"}


def test_model_source_has_no_wall_clock_or_global_random():
    import pathlib

    import hvlab.model

    root = pathlib.Path(hvlab.model.__path__[0])
    for path in root.glob("*.py"):
        text = path.read_text()
        for bad in ("import time", "datetime", "random.random(", "random.choice(", "os.urandom"):
            assert bad not in text, f"{path.name} uses {bad}"
