"""A learner's session: the run on screen, the run before the last switch, the filter.

The TUI draws what this holds and changes it only through these methods, so every pane and
every test reads one source of truth. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hvlab import shared_runs
from hvlab.lab import Divergence, Lab, UnknownWorkloadError
from hvlab.model.core.canaries import ProbeOutcome, move_verdict
from hvlab.model.core.events import Event, EventKind
from hvlab.model.core.protections import (
    PRESETS,
    Design,
    UnknownDesignError,
    UnknownProtectionError,
    known_protections,
)
from hvlab.model.scenarios.moves import MoveError
from hvlab.model.scenarios.moves import parse as moves_parse
from hvlab.plugins import Catalogue, finish_run, load_catalogue, site_handler, start_run
from hvlab.render import verdict_text
from hvlab.trace_filter import TraceFilter


class SessionError(ValueError):
    """A request the session cannot carry out; the message is one line for the learner."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides a run: the same spec always gives the same trace."""

    workload: str = "boot"
    attack: str | None = None
    preset: str = "hyperv"
    off: tuple[str, ...] = ()
    seed: int = 0
    moves: tuple[tuple[int, str], ...] = ()  # the learner's moves: (step, line)

    def describe(self) -> str:
        """The run in a line, what a narrow status bar must not lose first: which protections
        are off (the full list is in the Protections tab if it is cut), then the workload and
        the attack."""
        parts = [self.workload] + ([f"attack {self.attack}"] if self.attack else [])
        if self.off:
            off = f"off: {', '.join(self.off)}"
            parts.insert(0, off if self.preset == "hyperv" else f"design {self.preset}, {off}")
        else:
            parts.append(f"design {self.preset}")
        if self.moves:
            parts.append(f"{len(self.moves)} move{'s' if len(self.moves) > 1 else ''}")
        return " · ".join(parts)


def design_for(spec: RunSpec, cat: Catalogue) -> Design:
    try:
        return Design.build(spec.preset, list(spec.off), cat.extra_protections)
    except (UnknownDesignError, UnknownProtectionError) as exc:
        raise SessionError(str(exc)) from None


def attack_for(spec: RunSpec, cat: Catalogue):
    """The spec's attack, if any, checked: known, its plugin not blocked, its workload."""
    if not spec.attack:
        return None
    try:
        attack = cat.attack(spec.attack)
    except KeyError as exc:
        raise SessionError(exc.args[0]) from None
    if cat.manager.is_blocked(attack.plugin):
        said = next((e for e in cat.errors if e.startswith(f"plugin '{attack.plugin}'")), "")
        raise SessionError(
            f"attack '{attack.name}': its plugin '{attack.plugin}' is blocked for this "
            f"session{': ' + said if said else ''}"
        )
    if attack.workload != spec.workload:
        raise SessionError(
            f"attack '{attack.name}' rides on the workload '{attack.workload}', not "
            f"'{spec.workload}': name '{attack.workload}' as the workload"
        )
    return attack


def judge_spec(cat: Catalogue, spec: RunSpec, jobs: int = 1):
    """The spec's moves under every design, with the catalogue's plugins (the capstone's
    matrix): a hvlab.moves_matrix.Judgement."""
    from hvlab.moves_matrix import judge_moves

    attack = attack_for(spec, cat)
    design = design_for(spec, cat)
    plugged = plugged_in(cat)
    try:
        base = Lab(spec.workload, design, spec.seed, attack=attack, **plugged)
        # a move made at or past the end of the run without moves is made once the workload's
        # own programs are done: the same move under every design, wherever its run ends
        at_end = all(step >= base.last for step, _line in spec.moves)
        return judge_moves(
            spec.workload, spec.moves, frozenset(design.off), spec.seed, attack=attack,
            jobs=jobs, at_end=at_end, **plugged,
        )  # fmt: skip
    except UnknownWorkloadError as exc:
        raise SessionError(str(exc)) from None
    except MoveError as exc:
        raise SessionError(f"move: {exc}") from None


def plugged_in(cat: Catalogue) -> dict:
    """What a run takes from the catalogue's plugins: workloads, sites, defenses, canaries."""
    return {
        "workloads": cat.workloads,
        "site_handler": site_handler(cat),
        "defenses": cat.extra_protections,
        "canaries": tuple(cat.canaries),
        "slot_handler": cat.slot_handler,
    }


def run_lab(
    cat: Catalogue,
    spec: RunSpec,
    fork: Lab | None = None,
    lazy: bool = False,
    record: bool = False,
) -> Lab:
    """Compute the run `spec` names with the catalogue's plugins, telling them it started and
    finished. The returned lab's cursor is at the last event. `fork`: this catalogue's run of
    the same spec with one move fewer, to start from; `lazy`: compute until the last move's
    reply, the rest when asked; `record`: keep what a later move forks from (see Lab)."""
    attack = attack_for(spec, cat)
    design = design_for(spec, cat)
    info = {
        "workload": spec.workload,
        "design": sorted(design.off),
        "seed": spec.seed,
        "attack": spec.attack,
    }
    start_run(cat, info)
    try:
        lab = Lab(
            spec.workload,
            design,
            spec.seed,
            attack=attack,
            moves=spec.moves,
            fork=fork,
            lazy=lazy,
            record=record,
            **plugged_in(cat),
        )
    except UnknownWorkloadError as exc:
        raise SessionError(str(exc)) from None
    except MoveError as exc:
        raise SessionError(f"move: {exc}") from None
    if lab.finished:
        finish_run(cat, info, lab.events, lab.outcome)
    else:
        lab.on_finish = lambda: finish_run(cat, info, lab.events, lab.outcome)
    return lab


@dataclass(frozen=True)
class MoveReply:
    """A move's line, where it was made, what it got, and what the oracle says of it."""

    number: int
    line: str
    step: int
    text: str
    verdict: ProbeOutcome | None
    answered: int | None = None  # the step of its reply event

    def describe(self) -> str:
        judged = verdict_text(self.verdict)
        return f"move {self.number} at step {self.step} ({self.line}): {self.text} — {judged}"


@dataclass
class Session:
    spec: RunSpec
    catalogue: Catalogue = field(default_factory=lambda: load_catalogue([], echo=False))
    lab: Lab = field(init=False)
    baseline: Lab | None = field(default=None, init=False)
    divergence: Divergence | None = field(default=None, init=False)
    switched: str | None = field(default=None, init=False)
    filter: TraceFilter = field(default_factory=TraceFilter, init=False)
    _visible: list[int] | None = field(default=None, init=False)
    _errors_seen: int = field(default=0, init=False)
    _before_move: list[Lab] = field(default_factory=list, init=False)
    judgement: Any = field(default=None, init=False)  # the last judge(): moves_matrix.Judgement

    def __post_init__(self) -> None:
        self.lab = self._build(self.spec)

    # -- runs -------------------------------------------------------------------------------
    @property
    def protections(self) -> tuple[str, ...]:
        return known_protections(self.catalogue.extra_protections)

    @property
    def design(self) -> Design:
        return self.lab.design

    def _design(self, spec: RunSpec) -> Design:
        return design_for(spec, self.catalogue)

    def _build(self, spec: RunSpec) -> Lab:
        cache = shared_runs.CACHE
        key = (spec, id(self.catalogue)) if cache is not None and not spec.moves else None
        lab = cache.get(key) if key is not None else None
        if lab is None or lab is getattr(self, "lab", None) or lab is self.baseline:
            lab = run_lab(self.catalogue, spec, record=True)  # a move may fork from it
            if key is not None:
                cache[key] = lab
        lab.rewind()
        return lab

    def _replace(self, spec: RunSpec, switched: str | None) -> Divergence | None:
        """Replay under `spec`, keep the old run beside it, land on the same step."""
        new = self._build(spec)
        new.goto(min(self.lab.cursor, new.last))
        self.baseline, self.lab, self.spec = self.lab, new, spec
        self.switched = switched
        self.divergence = self.baseline.compare(new)
        self._visible = None
        return self.divergence

    def toggle(self, protection: str) -> Divergence | None:
        """Switch one protection and replay the same run; return where the two runs part."""
        if protection not in self.protections:
            raise SessionError(
                f"unknown protection '{protection}' (valid: {', '.join(self.protections)})"
            )
        design = self.design
        off = set(design.off)
        off ^= {protection}
        spec = self._spec_for(frozenset(off))
        return self._replace(spec, protection)

    def _spec_for(self, off: frozenset[str]) -> RunSpec:
        """A spec whose design switches off exactly `off`: a preset's name when one matches."""
        for name in PRESETS:
            if self._design(replace(self.spec, preset=name, off=())).off == off:
                return replace(self.spec, preset=name, off=())
        base = self._design(replace(self.spec, preset="hyperv", off=()))
        return replace(self.spec, preset="hyperv", off=tuple(sorted(off - base.off)))

    def set_preset(self, preset: str) -> Divergence | None:
        if preset not in PRESETS:
            raise SessionError(f"unknown design '{preset}' (valid: {', '.join(sorted(PRESETS))})")
        return self._replace(replace(self.spec, preset=preset, off=()), None)

    def next_preset(self) -> str:
        names = sorted(PRESETS)
        here = self.spec.preset if not self.spec.off else None
        return names[(names.index(here) + 1) % len(names)] if here in names else "hyperv"

    # -- the learner's moves -------------------------------------------------------------------
    def judge(self):
        """The session's moves under every design (the capstone's matrix); kept as
        `judgement` while the moves and design it judged are the session's."""
        if not self.spec.moves:
            raise SessionError("no move to judge yet: make one on the ':' line first")
        judgement = judge_spec(self.catalogue, self.spec)
        self.judgement = (self.spec, judgement)
        return judgement

    @property
    def judged(self):
        """The judgement of the session's current moves and design, or None."""
        if self.judgement is None or self.judgement[0] != self.spec:
            return None
        return self.judgement[1]

    def do(self, line: str) -> MoveReply:
        """Make a move at the cursor: the run forks there, the move runs, the rest of the run is
        recomputed; the cursor lands on the move's reply. A bad line raises SessionError and
        changes nothing."""
        try:
            move = moves_parse(line)
        except MoveError as exc:
            raise SessionError(str(exc)) from None
        self._check_partitions(move)
        spec = replace(self.spec, moves=(*self.spec.moves, (self.cursor, line.strip())))
        new = run_lab(self.catalogue, spec, fork=self.lab, lazy=True, record=True)
        self._before_move.append(self.lab)
        self.lab, self.spec, self._visible = new, spec, None
        reply = self.reply(len(spec.moves))
        new.goto(reply.answered if reply.answered is not None else new.known_last)
        return reply

    def _check_partitions(self, move) -> None:
        """A move at a step where its guest (or a map's child) does not exist yet would do
        nothing: refused before it is made, saying where the guest comes into being."""
        needed = [move.partition] if move.is_child else []
        if move.action == "map":
            needed.append(move.args[0])
        for name in needed:
            if self.lab.state.get(("pid", name)) is not None:
                continue
            named = next(
                (
                    e.step
                    for e in self.lab.events
                    if e.name == "name-partition" and e.detail_dict().get("partition") == name
                ),
                None,
            )
            when = f"it is created at step {named}" if named is not None else "this run has none"
            raise SessionError(
                f"there is no partition {name} at step {self.cursor} ({when}): close this line "
                "(Esc), press e to go to the end of the run, and make the move there"
            )

    def undo(self) -> MoveReply | None:
        """Take the last move back; returns it, or None when there is none."""
        if not self.spec.moves:
            return None
        gone = self.reply(len(self.spec.moves))
        spec = replace(self.spec, moves=self.spec.moves[:-1])
        prior = self._before_move.pop() if self._before_move else None
        if prior is None or prior.design != self.lab.design or prior.moves != self.lab.moves[:-1]:
            prior = self._build(spec)
        prior.goto(min(gone.step, prior.last))
        self.lab, self.spec, self._visible = prior, spec, None
        return gone

    def reply(self, number: int) -> MoveReply:
        """What move `number` of the run on screen did, and the oracle's verdict on it (on the
        events so far, while the run's end is still being computed)."""
        step, move = self.lab.moves[number - 1]
        log = self.lab.events
        start = step + 1 if step < len(log) else 0  # a move runs after event `step`
        text, answered = "the move did not run (its partition never ran after that step)", None
        for i in log.in_scope(f"move:{number}", start):
            ev = log[i]
            if ev.kind is EventKind.MOVE and ev.name == "reply":
                text, answered = str(ev.detail_dict().get("reply", "")), i
        return MoveReply(number, move.text, step, text, move_verdict(log, number), answered)

    # -- the cursor -------------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        return self.lab.cursor

    @property
    def event(self) -> Event | None:
        return self.lab.event

    def goto(self, n: int) -> int:
        return self.lab.goto(n)

    def step(self, count: int = 1) -> int:
        """Step forward through the events the filter shows (all of them without a filter)."""
        if not self.filter.active:
            return self.lab.step(count)
        visible = self.visible
        from bisect import bisect_left, bisect_right

        if count >= 0:
            i = bisect_right(visible, self.cursor) + count - 1
            return self.lab.goto(visible[min(i, len(visible) - 1)]) if visible else self.cursor
        i = bisect_left(visible, self.cursor) + count
        return self.lab.goto(visible[i] if i >= 0 else -1) if visible else self.cursor

    def back(self, count: int = 1) -> int:
        return self.step(-count)

    def next_decision(self) -> int:
        """The next step where a protection decided, or a canary was breached."""
        for ev in self.lab.events[self.cursor + 1 :]:
            if ev.blocked or ev.kind.value == "breach":
                return self.lab.goto(ev.step)
        return self.cursor

    # -- filtering --------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Raises SessionError on a bad filter, leaving the old one in place."""
        try:
            self.filter = TraceFilter.parse(text)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        self._visible = None

    @property
    def visible(self) -> list[int]:
        """Steps of the events the filter shows."""
        if self._visible is None:
            f = self.filter
            self._visible = (
                list(range(len(self.lab.events)))
                if not f.active
                else [ev.step for ev in self.lab.events if f.matches(ev)]
            )
        return self._visible

    # -- plugin trouble ---------------------------------------------------------------------
    def new_errors(self) -> list[str]:
        """Plugin errors not yet shown to the learner."""
        errors = self.catalogue.errors[self._errors_seen :]
        self._errors_seen = len(self.catalogue.errors)
        return errors
