"""The trace lexer: found by Pygments through its entry point, and it tells the parts apart."""

from __future__ import annotations

import subprocess
import sys

from pygments.lexers import get_lexer_by_name
from pygments.token import Generic, Keyword, Name, Number

from hvlab.lab import Lab
from hvlab.render import trace_lines
from hvlab.trace_lexer import HvlabTraceLexer
from hvlab.tui.highlight import event_line, highlight


def tokens(line: str) -> list[tuple]:
    return [(t, v) for t, v in HvlabTraceLexer().get_tokens(line) if v.strip()]


def test_pygments_finds_the_lexer_by_name():
    assert isinstance(get_lexer_by_name("hvlab"), HvlabTraceLexer)


def test_pygmentize_highlights_a_trace(tmp_path):
    trace = tmp_path / "boot.hvtrace"
    trace.write_text("\n".join(trace_lines(Lab("boot").events[:40])) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "hvlab", "-f", "terminal256", str(trace)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stdout and "HvCallCreatePartition" in done.stdout


def test_a_hypercall_line_is_split_into_its_fields():
    lab = Lab("boot")
    ev = next(e for e in lab.events if e.name == "HvCallCreatePartition" and e.status is not None)
    got = tokens(next(line for line in trace_lines([ev]) if "HvCall" in line))
    assert got[0] == (Number, str(ev.step))
    assert (Name.Variable, ev.actor) in got
    assert (Keyword.Type, "hypercall") in got
    assert (Name.Function, "HvCallCreatePartition") in got
    assert (Generic.Inserted, "HV_STATUS_SUCCESS") in got


def test_a_refusal_and_a_breach_stand_out():
    got = tokens(
        "  490   659  hypervisor  driver  load-refused  "
        "HV_STATUS_OPERATION_DENIED  [no-third-party-code]"
    )
    assert (Generic.Deleted, "HV_STATUS_OPERATION_DENIED") in got
    assert (Name.Exception, "[no-third-party-code]") in got
    assert (Generic.Error, "BREACHED") in tokens("  mitm-driver  BREACHED: x reached y at step 3")


def test_the_timeline_short_form_is_highlighted_the_same_way():
    lab = Lab("boot")
    ev = next(e for e in lab.events if e.status is not None and int(e.status))
    from hvlab.tui.highlight import short_status

    text = highlight(event_line(ev))
    status = short_status(ev)  # the timeline's short form (OP_DENIED, BAD_INPUT, …)
    start = text.plain.index(status)
    styles = {str(span.style) for span in text.spans if span.start <= start < span.end}
    assert "bold red" in styles


def test_timeline_columns_stay_in_line_for_long_names_and_statuses():
    from hvlab.lab import Lab
    from hvlab.model.core.protections import Design
    from hvlab.model.hypervisor.constants import HvStatus
    from hvlab.plugins import load_catalogue, site_handler
    from hvlab.tui.highlight import STATUS_SHORT, event_line

    assert all(len(STATUS_SHORT.get(s.name, s.name)) <= 10 for s in HvStatus if s.name != "SUCCESS")
    cat = load_catalogue([], echo=False)
    for workload, attack, design in (
        ("ping", "mitm-driver", "monolithic"),
        ("disk-read", None, "hyperv"),
        ("memory-probe", None, "hyperv"),
    ):
        lab = Lab(
            workload,
            Design.build(design, [], cat.extra_protections),
            attack=cat.attack(attack) if attack else None,
            site_handler=site_handler(cat),
            defenses=cat.extra_protections,
        )
        for ev in lab.events:
            line = event_line(ev)
            assert line[23:32].rstrip() == ev.kind.value, line  # kind where the header says
            if isinstance(ev.status, HvStatus):  # (message types are named, and may be cut)
                status = line[64:74].strip()
                assert status and "…" not in status, line
