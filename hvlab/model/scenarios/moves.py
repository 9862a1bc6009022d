"""Moves, run: each move is an actor of its own whose program yields the same operations the
model's own kernels yield (a load through the principal's second-level map, a hypercall encoded
into the real input page, port I/O, a VMBus packet built by the VSCs' encoders, the VID's map
request), so the model answers it exactly as it answers them. Its events carry the scope
`move:N`; the oracle judges them as it judges a probe. The language itself: `move_language`.
"""

from __future__ import annotations

from collections.abc import Callable

from hvlab.model.core.engine import (
    Actor,
    Call,
    Do,
    LoadDriver,
    PortIo,
    RawHypercall,
    Read,
    WaitUntil,
    Write,
)
from hvlab.model.core.events import EventKind
from hvlab.model.core.layout import GUEST_INPUT_PAGE, GUEST_OUTPUT_PAGE
from hvlab.model.guest import netvsc, storvsc
from hvlab.model.hypervisor.calls import CALLS, CallSpec
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.hypercall_abi import HypercallInput, HypercallResult
from hvlab.model.hypervisor.partitions import HV_PID
from hvlab.model.scenarios.move_language import (
    ACTIONS,
    AT_END,
    CHILD_NAMES,
    MOVE_SCOPE,
    Move,
    MoveError,
    call_names,
    call_spec,
    parse,
)


# -- help ----------------------------------------------------------------------------------------
def help_topic(line: str) -> str | None:
    """The topic when `line` asks for help — `help`, `help ACTION`, or the same after the
    principal the move line starts with (`A: help map`) — else None."""
    words = line.strip().split(None, 1)
    if words and words[0].endswith(":") and len(words) > 1:
        words = words[1].split(None, 1)  # "A: help ..." — the line comes with "A: " typed
    if not words or words[0] != "help":
        return None
    return words[1].strip() if len(words) > 1 else ""


def help_text(topic: str = "") -> str:
    """`help`, `help ACTION`, `help hypercall NAME`: what the move line takes."""
    words = topic.split()
    if not words:
        lines = ["PRINCIPAL: ACTION ARGS — PRINCIPAL is root, A, B, root.driver:NAME or "
                 "hypervisor.driver:NAME; numbers hex (0x…) or decimal"]  # fmt: skip
        lines += [f"  {a.usage:<40} {a.summary}" for a in ACTIONS.values()]
        lines.append("help ACTION, help hypercall NAME: more")
        return "\n".join(lines)
    if words[0] == "hypercall" and len(words) > 1:
        spec = call_spec(words[1])
        if spec is None:
            raise MoveError(f"unknown hypercall '{words[1]}' — e.g. help hypercall CreatePartition")
        return call_help(spec)
    action = ACTIONS.get(words[0])
    if action is None:
        raise MoveError(f"no help on '{words[0]}' (actions: {', '.join(ACTIONS)})")
    text = f"{action.usage}\n  {action.summary}\n  e.g. {action.example}"
    if action.name == "hypercall":
        text += "\n  calls: " + ", ".join(call_names())
    return text


def call_help(spec: CallSpec) -> str:
    code = spec.code
    head = f"{code.label} ({int(code):#06x}){' rep' if spec.rep else ''}"
    if spec.privilege is not None:
        head += f", needs {spec.privilege.name}"
    lines = [head]
    if spec.layout is not None:
        lines.append(f"  input {spec.layout.name} ({spec.layout.size} bytes):")
        lines += [f"    {f.name} @{f.offset} ({f.size})" for f in spec.layout.fields]
    else:
        lines.append("  no input block")
    if spec.elem is not None:
        lines.append(f"  elems= {spec.elem.name} ({spec.elem.size} bytes each)")
    if spec.fast_ok:
        lines.append("  may be fast (input in registers)")
    return "\n".join(lines)


# -- running -------------------------------------------------------------------------------------
def move_scope(number: int) -> str:
    return f"{MOVE_SCOPE}{number}"


def actor(move: Move, number: int, machine, step: int, ahead: list[Actor]) -> Actor:
    """The move as an actor: it waits until event `step` has happened (or the run's own actors
    are done), then runs before anything else; among moves ready at once, the lower number."""

    def due(m) -> bool:
        return len(m.events) > step or all(a.done or a.daemon for a in ahead)

    a = Actor(
        move.principal,
        move.partition,
        lambda act: program(move, number, act),
        machine,
        priority=1_000_000 - number,
    )
    a.scope = move_scope(number)
    a.waiting = WaitUntil(due, f"move {number} at step {step}")
    return a


def program(move: Move, number: int, actor: Actor):
    """What the move does, as operations; the first and last events say what it was and got."""
    yield Do(lambda m: _emit(m, actor, move, number, "begin", {"line": move.text}), "move")
    reply = yield from RUNNERS[move.action](move, actor)
    status = reply.status if isinstance(reply, HypercallResult) else None
    text = _describe(reply)
    yield Do(
        lambda m: _emit(
            m, actor, move, number, "reply", {"line": move.text, "reply": text}, status
        ),
        "move reply",
    )


def _emit(m, actor, move, number, name, detail, status=None) -> None:
    node = move.principal if "." in move.principal else f"{move.principal}.kernel"
    m.emit(EventKind.MOVE, actor.name, name, status=status, path=(node,),
           detail={"move": number, **detail})  # fmt: skip


def _describe(reply) -> str:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, HypercallResult):
        if reply.status is None:
            return f"the call faulted: {reply.fault}"
        out = f"{reply.status.label}"
        if reply.reps:
            out += f", {reply.reps} reps done"
        if reply.output:
            out += f"; output {reply.output[:32].hex()}"
        return out
    if reply is None:
        return "refused"
    if isinstance(reply, bytes):
        return f"{len(reply)} bytes: {reply.hex()}" if reply else "done"
    return "done" if reply else "refused"


def _access(move: Move, actor: Actor, op, direct):
    """A load or store: through the principal's map, a driver's host's, or — for a driver in
    the hypervisor — physical memory (`direct`). A string result says why nothing happened."""
    if move.principal.startswith("hypervisor."):
        return (yield from _as_hypervisor_driver(move, actor, direct))
    if move.principal.startswith("root."):
        return (yield from _as_root_driver(move, actor, op))
    return (yield op)


def _run_read(move: Move, actor: Actor):
    gpa, size = move.args
    since = yield Do(lambda m: len(m.events), "the clock")
    got = yield from _access(
        move, actor, Read(gpa, size), lambda m: m.read(HV_PID, gpa, size, actor.name)
    )
    if isinstance(got, str):
        return got
    waited = yield Do(lambda m: _waited(m, since, actor.partition, gpa), "the clock")
    return (f"{len(got)} bytes: {got.hex()}" if got is not None
            else "no data: the access faulted") + waited  # fmt: skip


def _run_write(move: Move, actor: Actor):
    gpa, value = move.args
    data = value.to_bytes(8, "little")
    since = yield Do(lambda m: len(m.events), "the clock")
    ok = yield from _access(
        move, actor, Write(gpa, data), lambda m: m.write(HV_PID, gpa, data, actor.name)
    )
    if isinstance(ok, str):
        return ok
    waited = yield Do(lambda m: _waited(m, since, actor.partition, gpa), "the clock")
    return ("written" if ok else "not written: the access faulted") + waited


def _waited(m, since: int, partition: str, gpa: int) -> str:
    """How long the access at `gpa` kept the partition's VP suspended, from event `since` on:
    an intercept to its parent and back — the delay a guest can time with its reference
    counter. '' for an access that took no intercept."""
    page = gpa // PAGE_SIZE * PAGE_SIZE
    began = None
    for i in range(since, len(m.events)):
        ev = m.events[i]
        if ev.kind is not EventKind.INTERCEPT:
            continue
        d = ev.detail_dict()
        if began is None and ev.path[:1] == (f"{partition}.kernel",) and d.get("gpa") == page:
            began = ev
        elif began is not None and ev.name == "resume" and d.get("gpa") == page:
            return f" (the VP waited {ev.time - began.time} ticks for the root)"
    if began is not None:  # refused: the fault ends the wait
        return (
            f" (the VP waited {m.events[len(m.events) - 1].time - began.time} ticks for the root)"
        )
    return ""


def _driver_loaded(move: Move):
    where, _, name = move.principal.partition(".driver:")

    def check(m) -> str | None:
        if m.store.get(("driver", where, name)) is not None:
            return None
        loaded = sorted(k[2] for k in m.store.data if k[0] == "driver" and k[1] == where)
        return (f"no driver '{name}' is loaded into the {where} at this step"
                f" (loaded: {', '.join(loaded) or 'none'})")  # fmt: skip

    return Do(check, "is the driver loaded")


def _as_root_driver(move: Move, actor: Actor, op):
    missing = yield _driver_loaded(move)
    if missing:
        return missing
    return (yield op)


def _as_hypervisor_driver(move: Move, actor: Actor, fn):
    missing = yield _driver_loaded(move)
    if missing:
        return missing
    return (yield Do(fn, "hypervisor driver access"))


def _run_hypercall(move: Move, actor: Actor):
    if move.principal.startswith("root."):
        missing = yield _driver_loaded(move)
        if missing:
            return missing
    if move.args[0] == "raw":
        _, code, data, rep_count, rep_start, fast = move.args
        in_gpa, out_gpa = yield Do(lambda m: _io_pages(m, actor), "hypercall pages")
        value = HypercallInput.encode(code, rep_count=rep_count, rep_start=rep_start, fast=fast)
        if fast:
            regs = data.ljust(16, b"\0")
            return (yield RawHypercall(value, int.from_bytes(regs[:8], "little"),
                                       int.from_bytes(regs[8:16], "little")))  # fmt: skip
        return (yield RawHypercall(value, in_gpa, out_gpa, data))
    _, code, fields, elems, rep_count, rep_start, fast = move.args
    spec = CALLS[code]
    resolved = yield Do(lambda m: _resolve(m, actor, dict(fields)), "partition ids")
    if isinstance(resolved, str):
        return resolved
    header = spec.layout.pack(**resolved) if spec.layout else b""
    packed = tuple(spec.elem.pack(**dict(e)) for e in elems)
    if rep_start or (spec.rep and rep_count != len(packed)) or (fast and spec.rep):
        in_gpa, out_gpa = yield Do(lambda m: _io_pages(m, actor), "hypercall pages")
        value = HypercallInput.encode(code, rep_count=rep_count or 0, rep_start=rep_start,
                                      fast=fast)  # fmt: skip
        return (yield RawHypercall(value, in_gpa, out_gpa, header + b"".join(packed)))
    return (yield Call(HvCallCode(code), header, packed, rep_count if spec.rep else None, fast))


def _io_pages(m, actor: Actor) -> tuple[int, int]:
    if actor.partition == "root":
        return m.layout.root_input_page * PAGE_SIZE, m.layout.root_output_page * PAGE_SIZE
    return GUEST_INPUT_PAGE * PAGE_SIZE, GUEST_OUTPUT_PAGE * PAGE_SIZE


def _resolve(m, actor: Actor, fields: dict):
    from hvlab.model.hypervisor.constants import HV_PARTITION_ID_SELF

    out = {}
    for key, value in fields.items():
        if value == "self":
            value = HV_PARTITION_ID_SELF
        elif isinstance(value, str) and key.endswith("partition_id"):
            if m.store.get(("pid", value)) is None:
                return f"there is no partition {value} at this step"
            value = m.pid(value)
        out[key] = value
    return out


def _run_out(move: Move, actor: Actor):
    port, value, size = move.args
    yield PortIo(port, value.to_bytes(size, "little"), size)
    return f"out {port:#x} ← {value:#x}"


def _run_in(move: Move, actor: Actor):
    port, size = move.args
    got = yield PortIo(port, None, size)
    return f"in {port:#x} → {got.hex() if got else 'nothing'}"


def _run_send(move: Move, actor: Actor):
    ready = yield Do(lambda m: _channel_ready(m, actor, move.args[0]), "channel ready")
    if ready is not None:
        return ready
    if move.args[0] == "storage":
        _, op, lba, sectors, gpa = move.args
        cdb = storvsc.CDB_READ if op == "read" else storvsc.CDB_WRITE
        data = bytes(sectors * 512) if op == "write" else b""
        status, got = yield from storvsc.disk_io(actor, cdb, lba, sectors, data, gpa // PAGE_SIZE)
        text = f"SRB status {status:#04x}" if status is not None else "not sent"
        return f"{text}; {len(got)} bytes read" if got else text
    _, dest, text = move.args
    dst = yield Do(lambda m: _destination(m, dest), "destination")
    if dst is None:
        return f"no partition has the address {dest}"
    sent = yield from netvsc.send(actor, dst, text.encode())
    return "frame sent" if sent else "frame not sent"


def _channel_ready(m, actor: Actor, device: str) -> str | None:
    pid = m.store.get(("pid", actor.partition))
    ok = storvsc.ready(m, pid) if device == "storage" else netvsc.ready(m, pid)
    return None if ok else f"{actor.partition}'s {device} channel is not open yet at this step"


def _destination(m, dest: str) -> int | None:
    if ":" not in dest:
        return m.store.get(("pid", dest))
    pid = int(dest.rsplit(":", 1)[1], 16)
    return pid if m.store.get(("part", pid, "name")) else None


def _run_map(move: Move, actor: Actor):
    child, gpn, pfn, flags = move.args
    if move.principal.startswith("root."):
        missing = yield _driver_loaded(move)
        if missing:
            return missing

    def go(m):
        pid = m.store.get(("pid", child))
        if pid is None:
            return f"there is no partition {child} at this step"
        return m.vid.map_frames(pid, gpn, [pfn], flags)

    result = yield Do(go, "VID map request")
    if result is None:
        return "refused by the root's memory manager"
    return result


def _run_load(move: Move, actor: Actor):
    name, into = move.args
    loaded = yield LoadDriver(name, into)
    return f"driver {name} loaded into the {into}" if loaded else f"driver {name} not loaded"


RUNNERS: dict[str, Callable] = {
    "read": _run_read,
    "write": _run_write,
    "hypercall": _run_hypercall,
    "out": _run_out,
    "in": _run_in,
    "send": _run_send,
    "map": _run_map,
    "load-driver": _run_load,
}

__all__ = [
    "ACTIONS", "AT_END", "CHILD_NAMES", "MOVE_SCOPE", "Move", "MoveError", "actor", "help_text",
    "help_topic",
    "parse",
]  # fmt: skip
