"""A classroom on one machine: N browser sessions of `hvlab serve` at once.

Starts `hvlab serve` on 127.0.0.1 with the lab a teacher projects (`--workload ping --attack
mitm-driver`) and opens N websocket sessions the way the browser page does (textual-serve's
protocol: `["stdin", keys]` in, terminal output out). It waits until every session shows its
first frame and has focused it (as the page does once drawn) and the machine is idle again —
the time that takes is reported: a class joining at once waits that long — then has each
student press the step key at a human pace (once a second, at a random moment of the second)
and times key → the first frame that comes back. Reports the sessions held, resident memory
per session (each session's app process, plus a share of the server) and the p95 latency, and
checks that no session saw another's steps (each one's status line ends on its own count).

    python bench/classroom.py 1 10 30      prints one line per N
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP = re.compile(rb"step (-?\d+)/(\d+)")


@dataclass
class Classroom:
    sessions: int
    held: int
    mb_per_session: float
    p95_ms: float
    median_ms: float
    isolated: bool
    seconds: float
    ready_seconds: float  # connecting → every session drawn and the machine idle again


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (the server's app processes), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Student:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.seen = bytearray()
        self.frame = asyncio.Event()
        self.latencies: list[float] = []

    async def read(self) -> None:
        import aiohttp

        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.seen += message.data
                self.frame.set()
            elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break

    def last_step(self) -> int | None:
        found = STEP.findall(bytes(self.seen[-200_000:]))  # a full repaint is ~70 kB now
        return int(found[-1][0]) if found else None

    async def first_frame(self, deadline: float) -> bool:
        while self.last_step() is None:
            self.frame.clear()
            try:
                await asyncio.wait_for(self.frame.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return False
        return True

    async def press(self, key: str) -> None:
        self.frame.clear()
        started = time.perf_counter()
        await self.ws.send_json(["stdin", key])
        await asyncio.wait_for(self.frame.wait(), 30)
        self.latencies.append(time.perf_counter() - started)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def settled(server_pid: int, limit: float = 90) -> None:
    """Wait until the server and its apps are idle — under 5% of a core over half a second,
    twice running — so that keys are timed against a classroom at rest, not one still starting."""
    deadline = time.monotonic() + limit
    quiet, before = 0, cpu_seconds([server_pid, *descendants(server_pid)])
    while quiet < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_seconds([server_pid, *descendants(server_pid)])
        quiet = quiet + 1 if now - before < 0.025 else 0
        before = now


async def lesson_time(
    url: str, n: int, keys: int, rng: random.Random, server_pid: int
) -> tuple[list[Student], int, float]:
    import aiohttp

    async with aiohttp.ClientSession() as client:
        sockets = [await client.ws_connect(url, heartbeat=30) for _ in range(n)]
        students = [Student(ws) for ws in sockets]
        readers = [asyncio.create_task(s.read()) for s in students]
        started = time.monotonic()
        deadline = started + 60 + 3 * n  # app start-up, N at once on two cores
        ready = await asyncio.gather(*(s.first_frame(deadline) for s in students))
        held = sum(ready)
        for s, ok in zip(students, ready, strict=True):
            if ok:  # the page focuses its terminal once it is drawn, and says so to the app
                await s.ws.send_json(["focus"])
        await settled(server_pid)  # the apps' start-up work (lazy panes, a first restyle) done
        ready_seconds = time.monotonic() - started

        async def pace(student: Student) -> None:
            for _ in range(keys):
                await asyncio.sleep(rng.random())
                await student.press("n")
                await asyncio.sleep(1.0)

        await asyncio.gather(*(pace(s) for s, ok in zip(students, ready, strict=True) if ok))
        # a resize repaints the whole screen (a step repaints only the cells that changed), so
        # each session's status line can be read whole: it must show its own step count
        for s, ok in zip(students, ready, strict=True):
            if ok:
                s.seen.clear()
                await s.ws.send_json(["resize", {"width": 101, "height": 30}])
        await asyncio.sleep(1.0 + 0.05 * n)  # the repaints in
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()
        return [s for s, ok in zip(students, ready, strict=True) if ok], held, ready_seconds


def classroom(n: int, keys: int = 10, seed: int = 1) -> Classroom:
    port = free_port()
    lab = ["--workload", "ping", "--attack", "mitm-driver"]
    server = subprocess.Popen(
        [sys.executable, "-m", "hvlab", "serve", "--port", str(port), *lab],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HVLAB_DATA_DIR": str(ROOT / ".bench-data")},
        start_new_session=True,
    )
    try:
        line = server.stderr.readline().decode()  # "serving on ...": its own signal
        if "serving on" not in line:
            raise SystemExit(f"bench: hvlab serve did not start: {line}")
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"ws://127.0.0.1:{port}/ws?width=100&height=30"
        started = time.perf_counter()
        rng = random.Random(seed)

        async def session() -> tuple[list[Student], int, float, float]:
            task = asyncio.create_task(lesson_time(url, n, keys, rng, server.pid))
            # resident memory while every session is open, sampled as the keys go in
            peak = 0.0
            while not task.done():
                apps = descendants(server.pid)
                total = sum(rss_mb(p) for p in apps) + rss_mb(server.pid)
                peak = max(peak, total)
                await asyncio.sleep(0.5)
            students, held, ready_seconds = task.result()
            return students, held, peak, ready_seconds

        students, held, peak, ready_seconds = asyncio.run(session())
        seconds = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    latencies = sorted(x for s in students for x in s.latencies)
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("nan")
    isolated = all(s.last_step() == keys - 1 for s in students)
    return Classroom(
        sessions=n,
        held=held,
        mb_per_session=peak / max(1, held),
        p95_ms=p95 * 1e3,
        median_ms=statistics.median(latencies) * 1e3 if latencies else float("nan"),
        isolated=isolated,
        seconds=seconds,
        ready_seconds=ready_seconds,
    )


if __name__ == "__main__":
    for size in map(int, sys.argv[1:] or ["1", "10", "30"]):
        c = classroom(size)
        print(
            f"N={c.sessions}: held {c.held}, {c.mb_per_session:.0f} MB/session, key → frame "
            f"p95 {c.p95_ms:.0f} ms (median {c.median_ms:.0f}), isolated {c.isolated}, "
            f"ready after {c.ready_seconds:.0f} s, {c.seconds:.0f} s in all"
        )
