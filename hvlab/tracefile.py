"""Trace files: a moment of a run that another machine rebuilds exactly.

The file holds what the run needs — workload, attack, design, seed, the plugins and their
versions — where the viewer stands (step, and lesson and lesson step when in a lesson), and the
digest of the whole event trace. Replaying rebuilds the run and compares digests; a checksum
over the file's fields catches any edit, and a missing or mistyped field is named.

    hvlab_trace = 1
    hvlab_version = "0.1.0"
    workload = "ping"
    attack = "mitm-driver"      # "" for none
    design = "hyperv"
    off = []
    seed = 0
    step = 490
    lesson = ""                 # "" when not in a lesson
    lesson_step = 0
    events = 609
    digest = "…"                # SHA-256 of the canonical trace
    checksum = "…"              # SHA-256 of the fields above, so an edited file is refused
    [plugins]
    hvlab-attacks = "0.1.0"
    [[moves]]                   # the learner's moves, when there are any
    step = 700
    line = "A: read 0x28000"
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomli_w

from hvlab import __version__
from hvlab.model import MODEL_VERSION
from hvlab.plugins import Catalogue
from hvlab.session import RunSpec, Session, SessionError, run_lab
from hvlab.userfiles import InputFileError, read_toml, shown, write_atomically

FORMAT = 1
SUFFIX = ".hvtrace"


class TraceFileError(ValueError):
    """One line naming the file and what is wrong with it."""


@dataclass(frozen=True)
class Moment:
    workload: str
    attack: str
    design: str
    off: tuple[str, ...]
    seed: int
    step: int
    events: int
    digest: str
    lesson: str = ""
    lesson_step: int = 0
    plugins: dict[str, str] = field(default_factory=dict)
    hvlab_version: str = __version__
    model_version: int = MODEL_VERSION
    moves: tuple[tuple[int, str], ...] = ()

    @property
    def spec(self) -> RunSpec:
        return RunSpec(
            self.workload, self.attack or None, self.design, self.off, self.seed, self.moves
        )

    def fields(self) -> dict:
        out = asdict(self)
        out["off"] = list(self.off)
        del out["moves"]
        if self.moves:  # a file without moves reads as it always did
            out["moves"] = [{"step": step, "line": line} for step, line in self.moves]
        return out


def plugin_versions(cat: Catalogue, spec=None) -> dict[str, str]:
    """The plugins (name → version) a run of `spec` needs: its attack's, its workload's, and
    every plugin that adds a protection (consulted at its sites); all loaded ones without a
    spec. A file plugin's version is its `__version__`; an installed one's, its metadata's."""
    versions = {p.name: p.version or "" for p in cat.plugins}
    if spec is None:
        return versions
    needed = {plugin for _principle, plugin in cat.defenses.values()}
    if spec.attack and spec.attack in cat.attacks:
        needed.add(cat.attacks[spec.attack].plugin)
    workload = cat.workloads.get(spec.workload)
    if workload is not None and workload.plugin:
        needed.add(workload.plugin)
    return {name: v for name, v in versions.items() if name in needed}


def checksum(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def moment_of(session, step: int | None = None, lesson: str = "", lesson_step: int = 0) -> Moment:
    """The moment at `step` of a session's run (where its cursor stands when None)."""
    spec, lab = session.spec, session.lab
    return Moment(
        workload=spec.workload,
        attack=spec.attack or "",
        design=spec.preset,
        off=tuple(spec.off),
        seed=spec.seed,
        step=lab.cursor if step is None else max(-1, min(step, lab.last)),
        events=len(lab.events),
        digest=lab.digest,
        lesson=lesson,
        lesson_step=lesson_step,
        plugins=plugin_versions(session.catalogue, spec),
        moves=tuple(spec.moves),
    )


def capture(cat: Catalogue, spec: RunSpec, step: int | None = None, **lesson) -> Moment:
    """Run `spec` and describe the moment at `step` (the end of the run when None)."""
    session = Session(spec, cat)
    return moment_of(session, session.lab.last if step is None else step, **lesson)


def to_bytes(moment: Moment) -> bytes:
    fields = moment.fields()
    doc = {"hvlab_trace": FORMAT, **fields, "checksum": checksum(fields)}
    return tomli_w.dumps(doc).encode()


def write(path: Path, moment: Moment) -> None:
    """Write the trace file (atomically; a FIFO or device in its place is refused: OSError)."""
    write_atomically(path, to_bytes(moment))


TYPES = {
    "workload": str, "attack": str, "design": str, "off": list, "seed": int, "step": int,
    "events": int, "digest": str, "lesson": str, "lesson_step": int, "plugins": dict,
    "hvlab_version": str, "model_version": int,
}  # fmt: skip


def read(path: Path) -> Moment:
    name = shown(path)
    try:
        doc = read_toml(path, "trace file")
    except InputFileError as exc:
        raise TraceFileError(str(exc)) from None
    if doc.get("hvlab_trace") != FORMAT:
        raise TraceFileError(f"{name}: not an hvlab trace file of format {FORMAT}")
    fields = {}
    if "model_version" not in doc and "hvlab_version" in doc:
        doc = {**doc, "model_version": 1}  # written before traces named their model
        legacy = True
    else:
        legacy = False
    for key, kind in TYPES.items():
        if key not in doc:
            raise TraceFileError(f"{name}: damaged or truncated trace file (no '{key}')")
        if not isinstance(doc[key], kind) or (kind is int and isinstance(doc[key], bool)):
            raise TraceFileError(f"{name}: '{key}' must be {kind.__name__}")
        fields[key] = doc[key]
    if "moves" in doc:
        fields["moves"] = _moves(name, doc["moves"])
    summed = {k: v for k, v in fields.items() if k != "model_version"} if legacy else fields
    if doc.get("checksum") != checksum(summed):
        raise TraceFileError(f"{name}: the file was edited after it was written (checksum)")
    if not all(isinstance(x, str) for x in fields["off"]):
        raise TraceFileError(f"{name}: 'off' must be a list of protection ids")
    if not all(isinstance(v, str) for v in fields["plugins"].values()):
        raise TraceFileError(f"{name}: 'plugins' must map plugin names to versions")
    if fields["lesson_step"] < 0 or fields["step"] < -1 or fields["events"] < 0:
        raise TraceFileError(f"{name}: step, lesson_step and events cannot be negative")
    fields["off"] = tuple(fields["off"])
    if "moves" in fields:
        fields["moves"] = tuple((m["step"], m["line"]) for m in fields["moves"])
    return Moment(**fields)


def _moves(name: str, moves) -> list:
    if not isinstance(moves, list) or not all(
        isinstance(m, dict)
        and set(m) == {"step", "line"}
        and type(m["step"]) is int
        and m["step"] >= -1
        and isinstance(m["line"], str)
        for m in moves
    ):
        raise TraceFileError(f"{name}: 'moves' must be [[moves]] tables of a step and a line")
    return moves


def verify(path: Path, cat: Catalogue) -> tuple[Moment, str | None]:
    """(the moment, None) when this machine rebuilds the same trace, else (moment, why not)."""
    moment = read(path)
    name = shown(path)
    if moment.model_version != MODEL_VERSION:
        return moment, (
            f"{name}: written by hvlab {moment.hvlab_version} with model version "
            f"{moment.model_version}; this hvlab's model is version {MODEL_VERSION}, so the run "
            "cannot be rebuilt — export it again with this hvlab"
        )
    here = plugin_versions(cat)
    for plugin, version in moment.plugins.items():  # what the run needs (see plugin_versions)
        if plugin not in here:
            return moment, (
                f"{name}: made with plugin '{plugin}' {version}, which is not loaded here; "
                "install it, or name its file with --plugin"
            )
    try:
        lab = run_lab(cat, moment.spec)
    except SessionError as exc:
        return moment, f"{name}: {exc}"
    if lab.digest != moment.digest or len(lab.events) != moment.events:
        # another version of a plugin is no reason to refuse a trace — unless the run differs
        changed = [
            f"plugin '{p}' is {here[p] or 'unversioned'} here, {v or 'unversioned'} in the file"
            for p, v in moment.plugins.items()
            if here[p] != v
        ]
        return moment, (
            f"{name}: the rebuilt run differs (digest {lab.digest[:12]}… of {len(lab.events)} "
            f"events; the file says {moment.digest[:12]}… of {moment.events})"
            + (f"; {'; '.join(changed)}" if changed else "")
        )
    if not -1 <= moment.step <= lab.last:  # edited metadata stays inside the run it names
        return moment, f"{name}: step {moment.step} is outside the run (-1 to {lab.last})"
    return moment, None
