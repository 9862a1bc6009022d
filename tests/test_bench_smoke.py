"""The benchmark scripts run end to end at tiny sizes, so they cannot rot. No timing is judged."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def test_bench_smoke_prints_every_budget_row(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nPREVIOUS TABLE\n<!-- bench:end -->\noutro\n")
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--write-readme", str(readme)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    # header + engine, model ×2, jump, memory, a move near the end, matrix, CLI start, check,
    # TUI first frame ×2 and run on screen ×2, TUI widgets alone and after the model's work,
    # TUI step, a move → reply and → whole run, classroom (one session); not make test (the
    # smoke is run by make test)
    assert len(rows) == 1 + 19
    assert any(r.startswith("| TUI: step key") for r in rows)
    assert any(r.startswith("| TUI: process start → the run on screen") for r in rows)
    assert any(r.startswith("| TUI: a move") for r in rows)
    assert any(r.startswith("| a move 1,000 events before the end") for r in rows)
    assert any(r.startswith("| classroom: 1 browser session") and "1/1 held" in r for r in rows)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- bench:start -->\nMeasured ") and text.endswith("outro\n")
    assert "PREVIOUS TABLE" not in text
