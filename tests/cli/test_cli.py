"""The command line: JSON shape, determinism, readable output, and one-line errors."""

import json
import re
import subprocess
import sys

import pytest

from hvlab import __version__
from hvlab.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_boot_json_shape(capsys):
    code, out, err = run_cli(capsys, "run", "boot", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["workload"] == "boot" and doc["design"] == {"name": "hyperv", "off": []}
    assert len(doc["digest"]) == 64 and doc["event_count"] == len(doc["events"])
    for ev in doc["events"]:
        assert {"step", "kind", "actor", "status", "protection", "path"} <= ev.keys()
    statuses = [e["status"] for e in doc["events"] if e["status"]]
    assert {"name": "HV_STATUS_SUCCESS", "value": 0} in statuses
    assert doc["outcome"]["result"] == "ok"


def test_same_command_twice_same_digest(capsys):
    first = json.loads(run_cli(capsys, "run", "memory-probe", "--json", "--seed", "5")[1])
    second = json.loads(run_cli(capsys, "run", "memory-probe", "--json", "--seed", "5")[1])
    assert first["digest"] == second["digest"]


def test_memory_probe_monolithic_json(capsys):
    code, out, _ = run_cli(capsys, "run", "memory-probe", "--json", "--design", "monolithic")
    doc = json.loads(out)
    assert code == 0
    assert doc["design"]["off"] == [
        "driver-signing",
        "guest-traffic-via-root",
        "no-third-party-code",
    ]
    assert {p["result"] for p in doc["outcome"]["probes"]} == {"blocked"}
    denied = [e for e in doc["events"] if e["protection"] == "hypercall-only-access"]
    assert {"name": "HV_STATUS_ACCESS_DENIED", "value": 6} in [e["status"] for e in denied]


def test_off_accepts_several_ids_and_breaches_show(capsys):
    code, out, _ = run_cli(
        capsys, "run", "memory-probe", "--off", "separate-address-spaces", "sdl-input-validation"
    )
    assert code == 0
    assert "hv-read                BREACHED: hv-secret reached root" in out
    assert "malformed-rep          BREACHED: A wrote pool:B" in out
    assert "guest-snoop            blocked by exclusive-guest-memory" in out


def test_table_output_lists_events_and_outcome(capsys):
    code, out, _ = run_cli(capsys, "run", "boot")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("hvlab run boot  design=hyperv  seed=0")
    assert lines[1].split()[:3] == ["step", "time", "actor"]
    assert any("HvCallCreatePartition entry" in line for line in lines)
    assert lines[-2] == "outcome: ok" and lines[-1].startswith("digest ")


def test_no_command_without_a_terminal_says_what_to_run_instead(capsys):
    code, out, err = run_cli(capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "needs a terminal" in err and "hvlab run boot" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "no-such-workload"], "unknown workload 'no-such-workload' (valid: boot,"),
        (
            ["run", "boot", "--off", "warp-drive"],
            "unknown protection 'warp-drive' (valid: separate-",
        ),
        (["run", "boot", "--design", "xen"], "unknown design 'xen' (valid: hyperv, monolithic"),
        (["run", "boot", "--seed", "abc"], "argument --seed: 'abc' is not a whole number"),
        (["run"], "the following arguments are required: workload"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, args, needle):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("hvlab: ")
    assert needle in err
    assert "Traceback" not in err


def test_python_dash_m_and_version():
    proc = subprocess.run(
        [sys.executable, "-m", "hvlab", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == f"hvlab {__version__}"


def test_list_commands(capsys):
    assert "memory-probe" in run_cli(capsys, "workloads")[1]
    out = run_cli(capsys, "protections")[1]
    assert out.count("\n") == 10 and "sdl-input-validation" in out and "iommu-dma-protection" in out
    assert "driver-signing" in out and "(plugin hvlab-defenses)" in out


def test_do_a_childs_create_partition_shows_access_denied_in_json(capsys):
    code, out, _err = run_cli(
        capsys, "run", "boot", "--do", "A: hypercall HvCallCreatePartition", "--json"
    )
    doc = json.loads(out)
    assert code == 0
    marked = [e for e in doc["events"] if e.get("move") == 1]
    assert any(
        e["kind"] == "move" and e["status"] and e["status"]["name"] == "HV_STATUS_ACCESS_DENIED"
        for e in marked
    )
    assert doc["outcome"]["moves"][0]["protection"] == "hypercall-only-access"


def test_do_at_a_step_and_the_table_names_the_move_and_its_verdict(capsys):
    code, out, _err = run_cli(capsys, "run", "boot", "--at", "700", "--do", "A: read 0x28000")
    assert code == 0
    assert re.search(
        r"move 1 \(A: read 0x28000\): no data: the access faulted \(the VP waited \d+ ticks "
        r"for the root\) — blocked by exclusive-guest-memory",
        out,
    ), out


@pytest.mark.parametrize(
    ("move", "needle"),
    [("A: frobnicate", "unknown action 'frobnicate'"), ("Q: read 0", "unknown principal 'Q'")],
)
def test_a_bad_move_is_one_line_exit_2(capsys, move, needle):
    code, out, err = run_cli(capsys, "run", "boot", "--do", move)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_do_help_lists_the_actions(capsys):
    code, out, _err = run_cli(capsys, "run", "boot", "--do", "help hypercall CreatePartition")
    assert code == 0 and "hv_input_create_partition" in out
