"""The scaffolded plugin and the example package install for real (pip, no download) and load
through their entry points; the scaffold's own test passes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hvlab.cli import main

ROOT = Path(__file__).resolve().parents[2]


def pip_install(source: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )


def run_with(target: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("plugins")
    assert main(["new", "plugin", "page-peek", "--dir", str(base)]) == 0
    target = base / "site"
    pip_install(base / "hvlab-page-peek", target)
    pip_install(ROOT / "docs" / "examples" / "hvlab-root-reader", target)
    return base, target


def test_installed_plugins_load_through_entry_points(installed):
    _base, target = installed
    listing = run_with(target, "-m", "hvlab", "plugins")
    assert listing.returncode == 0 and listing.stderr == ""
    assert "page-peek 0.1.0  (entry point)" in listing.stdout
    assert "root-reader 0.1.0  (entry point)" in listing.stdout
    run = run_with(
        target,
        "-m",
        "hvlab",
        "run",
        "boot",
        "--attack",
        "page-peek",
        "--off",
        "exclusive-guest-memory",
    )
    assert "page-peek              BREACHED: B-library reached A" in run.stdout


def test_the_scaffolds_own_test_passes(installed):
    base, target = installed
    result = run_with(
        target,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(base / "hvlab-page-peek" / "tests"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path, capsys):
    assert main(["new", "plugin", "Not A Name", "--dir", str(tmp_path)]) == 2
    assert main(["new", "plugin", "ok-name", "--dir", str(tmp_path)]) == 0
    assert main(["new", "plugin", "ok-name", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "must be lower-case" in err[0] and "already exists" in err[1]
