"""hvlab benchmarks: every figure is a ratio against a baseline measured in the same run.

    python bench/run.py                 full sizes, prints the table
    python bench/run.py --write-readme README.md   and puts it between the README's markers
    python bench/run.py --smoke         tiny sizes, so the scripts cannot rot (used by the tests)

Timings are medians of several runs (the test suite's, which takes minutes, is run once);
nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass
class Row:
    budget: str
    measured: str
    baseline: str
    ratio: float | None
    limit: float | None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.ratio is None or self.limit is None:
            return "-"
        return "within" if self.ratio <= self.limit else "OVER"


def median_time(fn, repeat: int) -> float:
    return interleaved({"": fn}, repeat)[""]


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The median seconds of each function, measured in turns — every round runs each once,
    starting one further along each time — so a busy spell on a shared machine slows a figure
    and its baseline alike instead of one block of runs."""
    names = list(fns)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        for i in range(len(names)):
            name = names[(round_ + i) % len(names)]
            t0 = time.perf_counter()
            fns[name]()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(times) for name, times in samples.items()}


def pluggy_loop(calls: int) -> Callable[[], None]:
    """`calls` hook calls with one implementation each: the engine budget's unit."""
    import pluggy

    spec, impl = pluggy.HookspecMarker("bench"), pluggy.HookimplMarker("bench")

    class Spec:
        @spec
        def bench_event(self, event): ...

    class Impl:
        @impl
        def bench_event(self, event):
            return event

    pm = pluggy.PluginManager("bench")
    pm.add_hookspecs(Spec)
    pm.register(Impl())
    hook = pm.hook.bench_event

    def loop():
        for i in range(calls):
            hook(event=i)

    return loop


def pulse_workload():
    """The engine with the model's work taken out: the root's three services waiting on their
    real wake-up conditions, and two root actors whose every operation stores one value and
    records one event. What remains per event is the engine's own: choosing the next actor
    (asking each waiting one), resuming its program, running the operation, recording the
    event with its change, keeping checkpoints."""
    from hvlab.model.core.engine import Actor, Do
    from hvlab.model.core.events import EventKind
    from hvlab.model.hypervisor.memory import ROOT
    from hvlab.model.scenarios.workloads import Workload, services

    def tick(m, name: str, i: int) -> None:
        m.store.set(("pulse", name), i)
        m.emit(EventKind.PROBE, name, "pulse", path=(name,), detail={"i": i})

    def build(machine, iterations: int = 1000, **_params):
        def worker(name: str):
            def program(_actor):
                for i in range(iterations):
                    yield Do(lambda m, i=i: tick(m, name, i))

            return program

        names = ("root.pulse-a", "root.pulse-b")
        return [*services(machine)] + [Actor(n, ROOT, worker(n), machine) for n in names]

    return Workload("pulse", build, "two actors recording one event per operation")


def engine_per_event(repeat: int, iterations: int) -> list[Row]:
    """Per-event figures are marginal: a run of N iterations less a run of none, so the
    machine's power-on and the lab's set-up are paid once a run, not per event."""
    from hvlab.lab import Lab

    calls = 20_000
    pulse = {"pulse": pulse_workload()}

    def pulse_run(n):
        return lambda: Lab("pulse", workloads=pulse, params={"iterations": n})

    def busy_run(n):
        return lambda: Lab("busy", params={"iterations": n})

    runs = {
        "hook": pluggy_loop(calls),
        "pulse": pulse_run(iterations * 8),
        "pulse-0": pulse_run(0),
        "boot": lambda: Lab("boot"),
        "busy": busy_run(iterations * 2),
        "busy-0": busy_run(0),
    }
    events = {name: len(run().events) for name, run in runs.items() if name != "hook"}
    t = interleaved(runs, repeat)
    hook = t["hook"] / calls
    pulse_events, boot_events, busy_events = events["pulse"], events["boot"], events["busy"]
    engine = (t["pulse"] - t["pulse-0"]) / (pulse_events - events["pulse-0"])
    boot = t["boot"] / boot_events
    busy = (t["busy"] - t["busy-0"]) / (busy_events - events["busy-0"])
    baseline = f"bare pluggy hook call {hook * 1e6:.2f} µs"
    model_note = (
        "the model's own work per event (decoding and validating hypercalls, guest memory "
        "through the second-level maps, the oracle's checks) on top of the engine's"
    )
    return [
        Row(
            "engine: per-event cost of the engine itself (choose the actor, resume it, record the "
            "event and its change, checkpoint; 5 actors, 3 waiting)",
            f"{engine * 1e6:.1f} µs/event ({pulse_events:,} events)",
            baseline,
            engine / hook,
            3.0,
        ),
        Row(
            "model: per-event cost of `hvlab run boot` (machine set-up included)",
            f"{boot * 1e6:.1f} µs/event ({boot_events} events)",
            baseline,
            boot / hook,
            None,
            model_note,
        ),
        Row(
            "model: per-event cost, steady state (`busy`: memory, hypercalls, signals)",
            f"{busy * 1e6:.1f} µs/event ({busy_events:,} events)",
            baseline,
            busy / hook,
            None,
            model_note,
        ),
    ]


def time_travel(events_wanted: int, jumps: int) -> list[Row]:
    """Run in a child process so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--time-travel-child", str(events_wanted), str(jumps)],
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(out.stdout)
    return [
        Row(
            f"time travel: jump to any step, p95 ({r['events']:,} events, a snapshot every "
            f"{CHECKPOINTS:,})",
            f"{r['p95'] * 1e3:.2f} ms",
            f"replay from the start {r['replay'] * 1e3:.0f} ms",
            r["p95"] / r["replay"],
            None,
            f"budget 50 ms absolute: {'within' if r['p95'] <= 0.05 else 'OVER'}",
        ),
        Row(
            f"time travel: peak resident memory ({r['events']:,} events)",
            f"{r['rss_mb']:.0f} MB",
            f"interpreter alone {r['base_mb']:.0f} MB",
            r["rss_mb"] / r["base_mb"],
            None,
            f"budget 300 MB absolute: {'within' if r['rss_mb'] <= 300 else 'OVER'}; "
            f"building the trace took {r['build']:.1f} s",
        ),
        Row(
            f"a move 1,000 events before the end of the {r['events']:,}-event run: to its "
            "reply, and to the whole run",
            f"{r['move_reply']:.2f} s to the reply, {r['move_all']:.2f} s to the end",
            f"computing the run from power-on {r['build']:.1f} s",
            r["move_all"] / r["build"],
            None,
            f"{r['move_replayed']:,} of {r['picks']:,} scheduler picks replayed from the record "
            "(programs fed their recorded results, no operation executed), the rest executed; "
            "a suspended Python generator cannot be copied, so the record stands in for a "
            "checkpoint of the programs",
        ),
    ]


def peak_rss_mb() -> float:
    """This process's peak resident memory: /proc's VmHWM, which starts afresh at exec.
    getrusage's figure carried the parent's peak into the child here (a bare child read
    153 MB after the engine rows had grown the benchmark process)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Snapshots every 8,192 events: a jump applies at most that many events' changes (well inside its
# budget), and the run keeps a quarter of the snapshots 2,048 would (each a copy of the store).
CHECKPOINTS = 8192


def time_travel_child(events_wanted: int, jumps: int) -> None:
    base_mb = peak_rss_mb()
    from hvlab.lab import Lab
    from hvlab.model.core.store import Store

    per_iteration = 16  # two children, eight events each per loop
    t0 = time.perf_counter()
    lab = Lab(
        "busy",
        params={"iterations": max(1, events_wanted // per_iteration)},
        checkpoint_every=CHECKPOINTS,
        record=True,  # the move row below forks from it
    )
    build = time.perf_counter() - t0
    rng = random.Random(0)
    samples = []
    for _ in range(jumps):
        n = rng.randrange(-1, lab.last + 1)
        t0 = time.perf_counter()
        lab.goto(n)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p95 = samples[int(0.95 * (len(samples) - 1))]
    t0 = time.perf_counter()  # baseline: rebuild the last state by applying every change
    lab._store = Store(lab._checkpoints[-1])
    lab.cursor = -1
    changes = lab.events.changes
    for i in range(len(lab.events)):
        lab._store.apply(changes(i))
    lab.cursor = lab.last
    replay = time.perf_counter() - t0
    rss_mb = peak_rss_mb()
    # a move near the end: forked from this lab's record, reply first, then the rest
    line, params = "A: read 0x1000", {"iterations": max(1, events_wanted // per_iteration)}
    t0 = time.perf_counter()
    moved = Lab(
        "busy",
        params=params,
        checkpoint_every=CHECKPOINTS,
        moves=((lab.last - 1000, line),),
        fork=lab,
        lazy=True,
    )
    move_reply = time.perf_counter() - t0
    moved.finish()
    move_all = time.perf_counter() - t0
    json.dump(
        {
            "move_reply": move_reply,
            "move_all": move_all,
            "move_replayed": moved.replayed,
            "picks": len(lab._trail),
            "events": len(lab.events),
            "p95": p95,
            "replay": replay,
            "rss_mb": rss_mb,
            "base_mb": base_mb,
            "build": build,
        },
        sys.stdout,
    )


def full_matrix(repeat: int, smoke: bool = False) -> Row:
    from hvlab.lab import Lab
    from hvlab.matrix import matrix
    from hvlab.plugins import load_catalogue, site_handler

    cat = load_catalogue()
    attacks = list(cat.attacks.values())[: 2 if smoke else None]  # smoke: the code, not the size
    from hvlab.model.core.protections import known_protections

    designs = 2 ** len(known_protections(cat.extra_protections))
    seconds = median_time(
        lambda: matrix(
            attacks, jobs=2, site_handler=site_handler(cat), defenses=cat.extra_protections
        ),
        max(1, repeat // 2),
    )
    boot = median_time(lambda: Lab("boot"), repeat)
    return Row(
        f"full matrix: {len(attacks)} attacks x {designs} designs on 2 processes",
        f"{seconds:.1f} s",
        f"one `boot` run from power-on {boot * 1e3:.0f} ms",
        seconds / boot,
        None,
        f"budget 10 s absolute: {'within' if seconds <= 10 else 'OVER'}",
    )


def python(*args: str) -> Callable[[], object]:
    """A run of this Python with `args`, to time."""
    return lambda: subprocess.run([sys.executable, *args], check=True, capture_output=True)


def cli_start(repeat: int) -> Row:
    t = interleaved({"bare": python("-c", "pass"), "help": python("-m", "hvlab", "--help")}, repeat)
    bare, helped = t["bare"], t["help"]
    heavy = set()
    for argv in (["--help"], ["run", "boot"]):  # the budget: neither loads Textual or networkx
        probe = (
            "import contextlib, io, sys\n"
            "from hvlab.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    main({argv!r})\n"
            "print(' '.join(sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        loaded = {name.split(".")[0] for name in out.stdout.split()}
        heavy |= loaded & {"textual", "networkx"}
    return Row(
        "CLI start: `hvlab --help` (budget: neither it nor `hvlab run` imports Textual or "
        "networkx)",
        f"{helped * 1e3:.0f} ms",
        f"bare `python -c pass` {bare * 1e3:.0f} ms",
        helped / bare,
        None,
        f"imports {', '.join(sorted(heavy))}: OVER" if heavy else "neither imported: within",
    )


def check_command(repeat: int, smoke: bool) -> Row:
    from hvlab.lessons import bundled_dir, load_lessons
    from hvlab.lessons.runner import known_ids
    from hvlab.model.core.protections import known_protections
    from hvlab.plugins import load_catalogue

    # the smoke run checks one lesson and no contracts: it keeps this code running, no more
    first = sorted(bundled_dir().glob("*.toml"))[0]
    args = ["-m", "hvlab", "check"] + (["--no-contracts", str(first)] if smoke else [])
    cat = load_catalogue([], echo=False)
    lessons, _errors = load_lessons([first] if smoke else [bundled_dir()], known_ids(cat))
    designs = 2 ** len(known_protections(cat.extra_protections))
    t = interleaved({"check": python(*args), "help": python("-m", "hvlab", "--help")}, repeat)
    seconds, bare = t["check"], t["help"]
    return Row(
        f"`hvlab check`: {len(lessons)} lessons (reference + known-bad) and "
        f"{len(cat.attacks)} contracts × {designs:,} designs",
        f"{seconds:.1f} s",
        f"`hvlab --help` {bare * 1e3:.0f} ms",
        seconds / bare,
        None,
        f"budget 5 s absolute: {'within' if seconds <= 5 else 'OVER'}",
    )


def test_suite(smoke: bool) -> Row:
    """`make test` less its one-time install: the lint and the whole suite, once (it takes
    minutes). The smoke run times one small test file, to keep this code running."""
    where = ["tests/model/test_store.py"] if smoke else []
    lint = [sys.executable, "-m", "ruff", "check", "hvlab", "plugins", "tests", "bench"]
    workers = str((os.cpu_count() or 1) + 1)  # as the Makefile's test target runs it
    suite = [sys.executable, "-m", "pytest", "-q", "-n", workers, "-p", "no:cacheprovider", *where]

    def run(*commands):
        start = time.perf_counter()
        for command in commands:
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - start

    collect = run([*suite, "--collect-only"])
    seconds = run(lint, suite)
    return Row(
        "`make test`: lint and the whole suite (the install on a fresh clone comes on top)"
        if not smoke
        else "`make test`: lint and one test file (smoke)",
        f"{seconds / 60:.1f} min",
        f"collecting the tests {collect:.1f} s",
        seconds / collect,
        None,
        f"budget 5 min absolute: {'within' if seconds <= 300 else 'OVER'}",
    )


def tui_start(repeat: int) -> list[Row]:
    import tui

    t = tui.start_seconds(
        ["bare", "hvlab", "hvlab-run", "lesson", "lesson-run", "skeleton", "model-work"], repeat
    )
    bare = t["bare"]
    baseline = f"bare Textual hello-world {bare * 1e3:.0f} ms"

    def row(which: str, budget: str, limit: float | None, note: str) -> Row:
        return Row(budget, f"{t[which] * 1e3:.0f} ms", baseline, t[which] / bare, limit, note)

    return [
        row(
            "hvlab",
            "TUI: process start → first frame (`hvlab --attack mitm-driver`, 120×40)",
            1.5,
            "the lab's frame, 'computing the run…'; plugins and the run load in a worker",
        ),
        row(
            "hvlab-run",
            "TUI: process start → the run on screen (`hvlab --attack mitm-driver`)",
            2.2,
            "the worker's plugins and run, then the lab's first frame holding them",
        ),
        row(
            "lesson",
            "TUI: process start → first frame (plain `hvlab`: the first lesson, 120×40)",
            1.5,
            "the lab's frame with the lesson pane; lessons and progress load in the worker",
        ),
        row(
            "lesson-run",
            "TUI: process start → the first lesson on screen (plain `hvlab`)",
            2.2,
            "includes reading the lessons and progress, computing the lesson's run",
        ),
        row(
            "skeleton",
            "TUI: the lab's Textual widgets alone, holding plain text (no hvlab code)",
            None,
            "what Textual itself needs for a screen like the lab's: the floor under the rows above",
        ),
        row(
            "model-work",
            "TUI: the same widgets, after the model's start-up work (importing the model, "
            "loading plugins, computing the attack row's run; no hvlab UI code)",
            None,
            "the floor for any lab that computes its run before its first frame",
        ),
    ]


def tui_step(presses: int) -> Row:
    import tui

    hv, bare = tui.step_seconds(presses)
    return Row(
        "TUI: step key → frame drawn, 8 partitions × 1,024 pages on screen (160×48)",
        f"{hv * 1e3:.1f} ms",
        f"bare Textual app, key → label redrawn {bare * 1e3:.1f} ms",
        hv / bare,
        None,
        f"budget 50 ms absolute: {'within' if hv <= 0.05 else 'OVER'}",
    )


def tui_moves(samples: int, smoke: bool = False) -> list[Row]:
    """A move on the `:` line → its reply's frame, on every shipped workload at its middle
    step, against a step key → frame in the same lab."""
    import tui

    per = tui.move_seconds(samples, ("boot",) if smoke else ())
    worst = max(per, key=lambda w: per[w][0])
    reply, _whole, step = per[worst]
    ratio = reply / step
    ok = reply <= 0.1 and ratio <= 5
    each = ", ".join(f"{w} {r * 1e3:.0f}" for w, (r, _a, _s) in per.items())
    return [
        Row(
            "TUI: a move (`:` line, enter) → the frame with its reply, p95, each shipped "
            f"workload at its middle step (the slowest shown: {worst})",
            f"{reply * 1e3:.0f} ms",
            f"step key → frame in the same lab, p95 {step * 1e3:.0f} ms",
            ratio,
            None,
            f"budget 100 ms and 5×: {'within' if ok else 'OVER'}; p95 ms by workload: {each}",
        ),
        Row(
            "TUI: the same move → the frame with the whole run recomputed after it (the rest "
            "of the run is computed once the reply is on screen)",
            f"{max(a for _r, a, _s in per.values()) * 1e3:.0f} ms (slowest workload)",
            f"step key → frame {step * 1e3:.0f} ms",
            max(a for _r, a, _s in per.values()) / step,
            None,
            "the status line says 'computing the rest of the run…' until then",
        ),
    ]


def classroom_rows(smoke: bool) -> list[Row]:
    """`hvlab serve` with 1, 10 and 30 browser sessions, each pressing the step key once a
    second; the one-session figure is the baseline of the others."""
    import classroom

    sizes = (1,) if smoke else (1, 10, 30)
    runs = [classroom.classroom(n, keys=1 if smoke else 10) for n in sizes]
    one = runs[0]
    rows = []
    for c in runs:
        goal = c.held == c.sessions and c.p95_ms <= 250 and c.isolated
        rows.append(
            Row(
                f"classroom: {c.sessions} browser session{'s' * (c.sessions > 1)} of `hvlab "
                "serve` at once, each pressing the step key once a second (key → frame)",
                f"{c.held}/{c.sessions} held, {c.mb_per_session:.0f} MB/session, "
                f"p95 {c.p95_ms:.0f} ms (median {c.median_ms:.0f} ms); all ready after "
                f"{c.ready_seconds:.0f} s",
                f"1 session: p95 {one.p95_ms:.0f} ms",
                c.p95_ms / one.p95_ms,
                None,
                f"goal: every session held, p95 ≤ 250 ms, no session seeing another's steps: "
                f"{'within' if goal else 'OVER'}",
            )
        )
    return rows


def table(rows: list[Row], repeat: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python "
        f"{platform.python_version()}, by `make bench` (medians of {repeat} runs, each taken in "
        "turns with its baseline; the test suite is run once).",
        "",
        "| budget | measured | baseline (same run) | ratio | limit | verdict | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r.ratio:.3g}×" if r.ratio is not None else "-"
        limit = f"≤ {r.limit:g}×" if r.limit is not None else "-"
        lines.append(
            f"| {r.budget} | {r.measured} | {r.baseline} | {ratio} | {limit} | "
            f"{r.verdict} | {r.note} |"
        )
    return "\n".join(lines)


def write_readme(path: Path, text: str) -> None:
    doc = path.read_text()
    if START not in doc or END not in doc:
        raise SystemExit(f"bench: {path} has no {START} ... {END} markers")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--time-travel-child":
        time_travel_child(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the scripts run")
    parser.add_argument("--write-readme", type=Path, metavar="README")
    args = parser.parse_args()
    repeat = 1 if args.smoke else 5
    # An installed package carries its bytecode (pip compiles on install; `make` does too); an
    # editable checkout under PYTHONDONTWRITEBYTECODE would otherwise recompile every start.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "hvlab"), str(ROOT / "plugins")],
        check=True,
        capture_output=True,
    )
    rows = engine_per_event(repeat, 20 if args.smoke else 2000)
    rows += time_travel(2_000 if args.smoke else 1_000_000, 20 if args.smoke else 1000)
    rows.append(full_matrix(repeat, args.smoke))
    rows.append(cli_start(repeat))
    rows.append(check_command(repeat, args.smoke))
    rows += tui_start(repeat)
    rows.append(tui_step(3 if args.smoke else 30))
    rows += tui_moves(2 if args.smoke else 20, args.smoke)
    rows += classroom_rows(args.smoke)
    if not args.smoke:  # the smoke keeps the scripts running; this row runs the suite itself
        rows.append(test_suite(args.smoke))
    text = table(rows, repeat)
    print(text)
    if args.write_readme:
        write_readme(args.write_readme, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
