"""`hvlab fuzz`: the SDL quality gate. Random and boundary hypercalls from guest A, each on a
freshly booted machine, checked after every call against the isolation invariants and the
oracle (no canary may reach anyone not entitled to it). The first violation is shrunk to a
minimal input and reported.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, fields, replace

from hvlab.matrix import booted_state
from hvlab.model.core.events import EventKind
from hvlab.model.core.layout import CHILDREN, DEFAULT_LAYOUT, GUEST_INPUT_PAGE, GUEST_OUTPUT_PAGE
from hvlab.model.core.protections import Design, Protection
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.hypervisor.constants import HV_PARTITION_ID_SELF, PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.hypercalls import HypercallInput, hypercall
from hvlab.model.hypervisor.invoke import pack
from hvlab.model.system import Machine

A_PAGES = CHILDREN[0].ram_pages
COUNTS = (0, 1, 2, 16, 255, 256, 257, 0xFFF)
WORDS = (0, 1, 0x0002_0010, HV_PARTITION_ID_SELF, 0xFFFF_FFFF, 40, 0x1000)
OUT_PAGES = (GUEST_OUTPUT_PAGE, A_PAGES - 1, A_PAGES, 0)


@dataclass(frozen=True)
class Input:
    """One hypercall: the input value's fields, where input and output sit, what the input says."""

    code: int
    rep_count: int = 0
    rep_start: int = 0
    fast: bool = False
    var_header: int = 0
    reserved: int = 0
    out_page: int = GUEST_OUTPUT_PAGE
    out_offset: int = 0
    target: int = HV_PARTITION_ID_SELF
    word: int = 0
    words: int = 0

    def value(self) -> int:
        v = HypercallInput.encode(
            self.code,
            fast=self.fast,
            rep_count=self.rep_count,
            rep_start=self.rep_start,
            var_header=self.var_header,
        )
        return v | (self.reserved << 27 if self.reserved else 0)

    def data(self) -> bytes:
        # a header of (partition, 0), as most calls with input take, then `words` list entries
        return pack(self.target, 0) + pack(self.word) * self.words

    def describe(self) -> str:
        try:
            name = HvCallCode(self.code).name
        except ValueError:
            name = f"call {self.code:#06x}"
        parts = [f"{name} (input value {self.value():#018x})"]
        defaults = Input(self.code)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "code" and value != getattr(defaults, f.name):
                parts.append(
                    f"{f.name}={value:#x}" if isinstance(value, int) else f"{f.name}={value}"
                )
        return ", ".join(parts)


def random_input(rng: random.Random) -> Input:
    codes = [c.value for c in HvCallCode]
    count = rng.choice(COUNTS) if rng.random() < 0.8 else rng.randrange(0x1000)
    return Input(
        code=rng.choice(codes) if rng.random() < 0.95 else rng.randrange(0x10000),
        rep_count=count,
        rep_start=rng.choice((0, 1, max(0, count - 1), 255, 256, 0xFFF, rng.randrange(0x1000))),
        fast=rng.random() < 0.1,
        var_header=0 if rng.random() < 0.9 else rng.randrange(0x400),
        reserved=0 if rng.random() < 0.95 else rng.randrange(1, 32),
        out_page=rng.choice(OUT_PAGES),
        out_offset=rng.choice((0, 8, 2048, 4088, 4095)),
        target=rng.choice((HV_PARTITION_ID_SELF, 0, 1, 2, 3, 0xFFFF)),
        word=rng.choice(WORDS) if rng.random() < 0.8 else rng.getrandbits(64),
        words=min(count, 300) if rng.random() < 0.7 else rng.choice((0, 1, 16)),
    )


def check(off: frozenset[str], inp: Input) -> str | None:
    """Run one call from A on a freshly booted machine; what broke, or None."""
    m = Machine(Design(off), seed=0, state=booted_state(off, 0))
    m.plant_lab_canaries()
    marks = len(m.events)
    a = m.pid("A")
    in_gpa = GUEST_INPUT_PAGE * PAGE_SIZE
    entry = m.store.get(("slat", a, GUEST_INPUT_PAGE))
    memory.write_phys(m.store, entry[0] * PAGE_SIZE, inp.data()[:PAGE_SIZE])
    m.store.take()
    try:
        hypercall(m, a, inp.value(), in_gpa, inp.out_page * PAGE_SIZE + inp.out_offset)
    except Exception as exc:  # the model itself failing on an input is a finding too
        return f"the model raised {type(exc).__name__}: {exc}"
    for ev in m.events[marks:]:
        if ev.kind is EventKind.BREACH:
            d = ev.detail_dict()
            return f"{d.get('canary')} reached {d.get('principal', ev.actor)} ({ev.name})"
    return invariant_broken(m, off)


def invariant_broken(m: Machine, off: frozenset[str]) -> str | None:
    st = m.store
    on = lambda p: p.value not in off  # noqa: E731
    if on(Protection.SEPARATE_ADDRESS_SPACES):
        for pfn in DEFAULT_LAYOUT.hypervisor_frames:
            if memory.mappers(st, pfn):
                return f"hypervisor frame {pfn:#x} is mapped into a partition"
    if on(Protection.EXCLUSIVE_GUEST_MEMORY) and on(Protection.HYPERCALL_ONLY_ACCESS):
        seen: dict[int, int] = {}
        for pid in partitions.children(st):
            for gpn in range(partitions.field(st, pid, "gpa_pages")):
                entry = memory.translate(st, pid, gpn)
                if entry is not None and seen.setdefault(entry[0], pid) != pid:
                    return f"frame {entry[0]:#x} is mapped into two guests"
    return None


def shrink(off: frozenset[str], inp: Input) -> Input:
    """Simplify field by field while the call still breaks something."""
    simpler = {
        "fast": (False,),
        "var_header": (0,),
        "reserved": (0,),
        "target": (HV_PARTITION_ID_SELF,),
        "word": (0,),
        "out_offset": (0,),
        "out_page": (GUEST_OUTPUT_PAGE,),
    }
    changed = True
    while changed:
        changed = False
        candidates = [replace(inp, **{k: v}) for k, vs in simpler.items() for v in vs]
        candidates += [replace(inp, words=n) for n in (0, 1, inp.words // 2) if n < inp.words]
        candidates += [
            replace(inp, rep_start=n) for n in (0, inp.rep_start // 2) if n < inp.rep_start
        ]
        candidates += [
            replace(inp, rep_count=n, words=min(inp.words, n))
            for n in (1, inp.rep_start + 1, inp.rep_count // 2)
            if n < inp.rep_count
        ]
        for c in candidates:
            if c != inp and check(off, c) is not None:
                inp, changed = c, True
                break
    return inp


@dataclass
class Finding:
    calls: int
    seconds: float
    problem: str | None = None
    minimal: Input | None = None


def boundary_inputs():
    """First a sweep of the edges: every call code × boundary rep counts × outputs placed at the
    start, middle and end of A's first and last pages (rep start 0, a plausible register name)."""
    for out_page in (GUEST_OUTPUT_PAGE, A_PAGES - 1):
        for out_offset in (0, 2048, 4088):
            for count in COUNTS:
                for code in HvCallCode:
                    yield Input(
                        code.value,
                        rep_count=count,
                        out_page=out_page,
                        out_offset=out_offset,
                        word=0x0002_0010,
                        words=min(count, 300),
                    )


def inputs(seed: int):
    yield from boundary_inputs()
    rng = random.Random(seed)
    while True:
        yield random_input(rng)


def fuzz(
    off: frozenset[str], seconds: float, seed: int = 0, max_calls: int | None = None
) -> Finding:
    """Boundary sweep, then random inputs from `seed`, until a violation, `seconds` pass, or
    `max_calls` calls are made (a count makes a run repeatable on any machine)."""
    started = time.perf_counter()
    calls = 0
    for inp in inputs(seed):
        if time.perf_counter() - started >= seconds or calls == max_calls:
            break
        calls += 1
        problem = check(off, inp)
        if problem is not None:
            minimal = shrink(off, inp)
            return Finding(calls, time.perf_counter() - started, check(off, minimal), minimal)
    return Finding(calls, time.perf_counter() - started)
