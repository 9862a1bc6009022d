"""The move language: the learner's own requests, one line each, made as a principal.

    PRINCIPAL: ACTION ARGS

PRINCIPAL is `root`, a child (`A`, `B`), or a driver the run has loaded (`root.driver:NAME`,
`hypervisor.driver:NAME`). A line is parsed here into a `Move`; `moves` runs it.

Every malformed line raises `MoveError`: one line that names the bad token and shows a correct
example.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hvlab.model.core.layout import CHILDREN
from hvlab.model.core.wire import Struct
from hvlab.model.guest import storvsc
from hvlab.model.hypervisor.calls import CALLS, CallSpec
from hvlab.model.hypervisor.constants import PAGE_SIZE, MapFlags

MOVE_SCOPE = "move:"
AT_END = 1 << 62  # a move's step meaning "once the run's own programs are done"
CHILD_NAMES = tuple(c.name for c in CHILDREN)
MAX_READ = PAGE_SIZE
ROOT_ONLY = ("map", "load-driver")
CHILD_ONLY = ("send",)


class MoveError(ValueError):
    """A move line that cannot be made: the message is one line for the learner."""


@dataclass(frozen=True)
class Action:
    name: str
    usage: str
    example: str
    summary: str


ACTIONS = {
    a.name: a
    for a in (
        Action("read", "read GPA [LEN]", "A: read 0x28000 16",
               "a load through the principal's own second-level map (LEN ≤ 4096, default 16)"),
        Action("write", "write GPA VALUE", "A: write 0x28000 0x41",
               "an 8-byte store through the principal's own map"),
        Action("hypercall", "hypercall NAME [FIELD=VALUE ...] [elems=V,V] [rep=N start=K] [fast]",
               "A: hypercall HvCallMapGpaPages partition=B target_gpa_base=0x32 elems=0xa5",
               "a hypercall: named fields of its input block, encoded into the input page; "
               "`hypercall 0xCODE raw=HEX` sends any bytes"),
        Action("out", "out PORT VALUE [size=1|2|4]", "A: out 0x1f7 0x20",
               "an OUT to an I/O port (intercepted to the worker process, or the real controller)"),
        Action("in", "in PORT [size=1|2|4]", "A: in 0x1f7", "an IN from an I/O port"),
        Action("send", "send storage read|write LBA [sectors=N] [gpa=GPA] | send net DEST TEXT",
               "A: send storage read 0 gpa=0x10000",
               "a VMBus packet on the child's own channel: an SRB, or an Ethernet frame to a "
               "partition (or its MAC)"),
        Action("map", "map CHILD GPA SPA [r|rw|rwx]", "root: map A 0x30000 0xa5000 rw",
               "the root's VID maps a frame into a child, judged by the root's memory policy"),
        Action("load-driver", "load-driver NAME [into=hypervisor|root]",
               "root: load-driver filter into=root", "ask for a driver to be loaded"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Move:
    """One parsed move. `text` is its canonical line (what traces and lessons keep)."""

    principal: str
    action: str
    args: tuple
    text: str

    @property
    def partition(self) -> str:
        """The partition whose VP runs the move (a driver runs on its host's VP: the root's)."""
        return self.principal if self.principal in CHILD_NAMES else "root"

    @property
    def is_child(self) -> bool:
        return self.principal in CHILD_NAMES


# -- parsing -------------------------------------------------------------------------------------
def _number(token: str, what: str, example: str, limit: int = 1 << 64) -> int:
    try:
        value = int(token, 0)
    except ValueError:
        raise MoveError(f"'{token}' is not a number ({what}); numbers are hex (0x28000) or "
                        f"decimal — e.g. {example}") from None  # fmt: skip
    if not 0 <= value < limit:
        raise MoveError(f"{what} {token} is out of range (0 to {limit - 1:#x}) — e.g. {example}")
    return value


def call_spec(name: str) -> CallSpec | None:
    """A call by any of its names: HvCallCreatePartition, CreatePartition, CREATE_PARTITION."""
    key = name.lower().replace("_", "")
    for spec in CALLS.values():
        label = spec.code.label
        if key in (
            label.lower(),
            label[len("HvCall") :].lower(),
            spec.code.name.lower().replace("_", ""),
        ):
            return spec
    return None


def call_names() -> list[str]:
    return sorted(spec.code.label for spec in CALLS.values() if not spec.maintenance)


HEAD = re.compile(r"\s*((?:root|hypervisor)\.driver:[^\s:]+|[^\s:]+)\s*:(.*)$")


def _split(line: str) -> tuple[str, str, list[str]]:
    found = HEAD.match(line)
    if found is None:
        raise MoveError("a move is 'PRINCIPAL: ACTION ARGS' — e.g. A: read 0x28000")
    head, words = found.group(1), found.group(2).split()
    if not words:
        raise MoveError(f"'{head}:' needs an action ({', '.join(ACTIONS)}) — "
                        f"e.g. {head}: read 0x28000")  # fmt: skip
    return head, words[0], words[1:]


PRINCIPAL = re.compile(r"(root|hypervisor)\.driver:([A-Za-z0-9_-]{1,40})")


def parse(line: str) -> Move:
    """Parse one move line, or raise MoveError naming the bad token."""
    if any(ord(c) < 32 or ord(c) == 127 for c in line):
        raise MoveError("a move is one line of printable text — e.g. A: read 0x28000")
    line = line.strip()
    principal, action, args = _split(line)
    if principal not in ("root", *CHILD_NAMES) and not PRINCIPAL.fullmatch(principal):
        valid = f"root, {', '.join(CHILD_NAMES)}, root.driver:NAME, hypervisor.driver:NAME"
        raise MoveError(f"unknown principal '{principal}' (valid: {valid}) — e.g. A: read 0x28000")
    if action not in ACTIONS:
        raise MoveError(f"unknown action '{action}' (valid: {', '.join(ACTIONS)}) — "
                        f"e.g. {ACTIONS['read'].example}")  # fmt: skip
    example = ACTIONS[action].example
    child = principal in CHILD_NAMES
    if action in ROOT_ONLY and (child or principal.startswith("hypervisor.")):
        raise MoveError(f"'{action}' is the root's (a child has no such power) — e.g. {example}")
    if action in CHILD_ONLY and not child:
        raise MoveError(f"'{action}' uses a child's VMBus channel; only {', '.join(CHILD_NAMES)}"
                        f" have one — e.g. {example}")  # fmt: skip
    if principal.startswith("hypervisor.") and action not in ("read", "write"):
        raise MoveError(f"a driver in the hypervisor reads and writes physical memory only — "
                        f"e.g. {principal}: read 0x28000")  # fmt: skip
    parsed = PARSERS[action](args, example)
    return Move(principal, action, parsed, f"{principal}: {action} {' '.join(args)}".rstrip())


def _positional(args: list[str], want: int, most: int, example: str, usage: str):
    plain = [a for a in args if "=" not in a]
    if not want <= len(plain) <= most:
        extra = plain[most] if len(plain) > most else None
        if extra is not None:
            raise MoveError(f"unexpected '{extra}': the form is '{usage}' — e.g. {example}")
        raise MoveError(f"missing arguments: the form is '{usage}' — e.g. {example}")
    return plain


def _options(args: list[str], allowed: tuple[str, ...], example: str) -> dict[str, str]:
    out = {}
    for a in args:
        if "=" in a:
            key, _, value = a.partition("=")
            if key not in allowed:
                raise MoveError(f"unknown option '{key}' (valid: {', '.join(allowed) or 'none'})"
                                f" — e.g. {example}")  # fmt: skip
            out[key] = value
    return out


def _parse_read(args, example):
    plain = _positional(args, 1, 2, example, ACTIONS["read"].usage)
    _options(args, (), example)
    gpa = _number(plain[0], "GPA", example)
    size = _number(plain[1], "LEN", example, MAX_READ + 1) if len(plain) > 1 else 16
    if size == 0:
        raise MoveError(f"LEN must be at least 1 — e.g. {example}")
    return (gpa, size)


def _parse_write(args, example):
    plain = _positional(args, 2, 2, example, ACTIONS["write"].usage)
    _options(args, (), example)
    return (_number(plain[0], "GPA", example), _number(plain[1], "VALUE", example))


def _size(opts, example) -> int:
    size = _number(opts.get("size", "1"), "size", example, 5)
    if size not in (1, 2, 4):
        raise MoveError(f"size must be 1, 2 or 4 — e.g. {example}")
    return size


def _parse_out(args, example):
    plain = _positional(args, 2, 2, example, ACTIONS["out"].usage)
    size = _size(_options(args, ("size",), example), example)
    port = _number(plain[0], "PORT", example, 1 << 16)
    return (port, _number(plain[1], "VALUE", example, 1 << (8 * size)), size)


def _parse_in(args, example):
    plain = _positional(args, 1, 1, example, ACTIONS["in"].usage)
    size = _size(_options(args, ("size",), example), example)
    return (_number(plain[0], "PORT", example, 1 << 16), size)


def _parse_send(args, example):
    if not args or args[0] not in ("storage", "net"):
        raise MoveError(f"send what? 'send storage ...' or 'send net ...' — e.g. {example}")
    if args[0] == "storage":
        usage = "send storage read|write LBA [sectors=N] [gpa=GPA]"
        plain = _positional(args[1:], 2, 2, example, usage)
        opts = _options(args[1:], ("sectors", "gpa"), example)
        if plain[0] not in ("read", "write"):
            raise MoveError(f"'{plain[0]}': an SRB here is read or write — e.g. {example}")
        lba = _number(plain[1], "LBA", example, 1 << 32)
        sectors = _number(opts.get("sectors", "1"), "sectors", example, 9)
        if sectors == 0:
            raise MoveError(f"sectors must be 1 to 8 — e.g. {example}")
        gpa = _number(opts.get("gpa", hex(storvsc.BUFFER_PAGE * PAGE_SIZE)), "gpa", example)
        return ("storage", plain[0], lba, sectors, gpa)
    net_example = "A: send net B hello"
    if len(args) < 3:
        raise MoveError(f"send net needs a destination and text — e.g. {net_example}")
    dest = args[1]
    if dest not in CHILD_NAMES and not re.fullmatch(r"00:15:5d(:[0-9a-f]{2}){3}", dest.lower()):
        raise MoveError(f"unknown destination '{dest}' (a child's name, or its MAC "
                        f"00:15:5d:00:00:PID) — e.g. {net_example}")  # fmt: skip
    text = " ".join(args[2:])
    if len(text.encode()) > 1024:
        raise MoveError(f"the frame's text is {len(text.encode())} bytes; at most 1024")
    return ("net", dest.lower() if ":" in dest else dest, text)


RIGHTS = {"r": MapFlags.READABLE, "rw": MapFlags.READABLE | MapFlags.WRITABLE}
RIGHTS["rwx"] = RIGHTS["rw"] | MapFlags.KERNEL_EXECUTABLE | MapFlags.USER_EXECUTABLE


def _parse_map(args, example):
    plain = _positional(args, 3, 4, example, ACTIONS["map"].usage)
    _options(args, (), example)
    if plain[0] not in CHILD_NAMES:
        raise MoveError(f"unknown child '{plain[0]}' (valid: {', '.join(CHILD_NAMES)}) — "
                        f"e.g. {example}")  # fmt: skip
    rights = plain[3] if len(plain) > 3 else "rw"
    if rights not in RIGHTS:
        raise MoveError(f"rights '{rights}' must be r, rw or rwx — e.g. {example}")
    gpa, spa = _number(plain[1], "GPA", example), _number(plain[2], "SPA", example)
    return (plain[0], gpa // PAGE_SIZE, spa // PAGE_SIZE, int(RIGHTS[rights]))


def _parse_load(args, example):
    plain = _positional(args, 1, 1, example, ACTIONS["load-driver"].usage)
    into = _options(args, ("into",), example).get("into", "hypervisor")
    if into not in ("hypervisor", "root"):
        raise MoveError(f"into={into}: a driver loads into hypervisor or root — e.g. {example}")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", plain[0]):
        raise MoveError(f"driver name '{plain[0]}' must be letters, digits, - or _ — "
                        f"e.g. {example}")  # fmt: skip
    return (plain[0], into)


HYPERCALL_OPTIONS = ("rep", "start", "elems", "raw")


def _parse_hypercall(args, example):
    if not args:
        raise MoveError(f"which call? (e.g. {', '.join(call_names()[:4])}, …) — e.g. {example}")
    name, rest = args[0], args[1:]
    flags = [a for a in rest if "=" not in a]
    for f in flags:
        if f != "fast":
            raise MoveError(f"unexpected '{f}': fields are FIELD=VALUE, and 'fast' — "
                            f"e.g. {example}")  # fmt: skip
    pairs = {}
    for a in rest:
        if "=" in a:
            key, _, value = a.partition("=")
            if key in pairs:
                raise MoveError(f"'{key}' is given twice — e.g. {example}")
            pairs[key] = value
    fast = "fast" in flags
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", name):
        code = _number(name, "call code", example, 1 << 16)
        spec = CALLS.get(code)
    else:
        spec = call_spec(name)
        if spec is None or spec.maintenance:
            near = [n for n in call_names() if name.lower()[:5] in n.lower()][:4]
            hint = f" (did you mean {', '.join(near)}?)" if near else " (help hypercall lists them)"
            raise MoveError(f"unknown hypercall '{name}'{hint} — e.g. {example}")
        code = int(spec.code)
    raw = pairs.pop("raw", None)
    rep = pairs.pop("rep", None)
    start = pairs.pop("start", None)
    elems_text = pairs.pop("elems", None)
    rep_count = _number(rep, "rep", example, 1 << 12) if rep is not None else None
    rep_start = _number(start, "start", example, 1 << 12) if start is not None else 0
    if raw is not None:
        if pairs or elems_text is not None:
            raise MoveError(f"raw= gives the whole input; drop '{next(iter(pairs), 'elems')}=' "
                            f"— e.g. A: hypercall 0x4b raw=0100")  # fmt: skip
        try:
            data = bytes.fromhex(raw)
        except ValueError:
            raise MoveError(
                f"raw='{raw}' is not hex bytes — e.g. A: hypercall 0x4b raw=0100"
            ) from None
        if len(data) > PAGE_SIZE:
            raise MoveError(f"raw= is {len(data)} bytes; the input page holds {PAGE_SIZE}")
        return ("raw", code, data, rep_count or 0, rep_start, fast)
    if spec is None:
        raise MoveError(f"no call has code {code:#06x} in the model; with a code, give the input "
                        f"as raw=HEX — e.g. A: hypercall {code:#x} raw=00")  # fmt: skip
    fields = {}
    layout = spec.layout
    for key, value in pairs.items():
        field_name = _field_name(layout, key)
        if field_name is None:
            valid = ", ".join(f.name for f in layout.fields) if layout else "none: no input block"
            raise MoveError(f"{spec.code.label} has no field '{key}' (fields: {valid}) — "
                            f"e.g. {example}")  # fmt: skip
        fields[field_name] = _field_value(layout, field_name, value, example)
    elems = ()
    if elems_text is not None:
        if spec.elem is None:
            raise MoveError(f"{spec.code.label} takes no rep elements — e.g. {example}")
        elems = tuple(_elem(spec.elem, e, example) for e in elems_text.split(",") if e)
    if rep_count is None and spec.rep:
        rep_count = len(elems) if elems else 1
    return ("call", code, tuple(fields.items()), elems, rep_count, rep_start, fast)


def _field_name(layout: Struct | None, key: str) -> str | None:
    if layout is None:
        return None
    if key in layout.by_name:
        return key
    if key == "partition":  # the partition the call is about, whatever its field is named
        for f in layout.fields:
            if f.name.endswith("partition_id"):
                return f.name
    matches = [f.name for f in layout.fields if f.name.split(".")[-1] == key]
    return matches[0] if len(matches) == 1 else None


def _field_value(layout: Struct, name: str, value: str, example: str):
    field = layout.by_name[name]
    if name.endswith("partition_id") and value in ("root", "self", *CHILD_NAMES):
        return value  # resolved to the partition's id when the move runs
    if field.kind in ("bytes", "ascii"):
        try:
            data = bytes.fromhex(value)
        except ValueError:
            raise MoveError(f"{name}='{value}' is not hex bytes — e.g. {name}=00ff") from None
        if len(data) > field.size:
            raise MoveError(f"{name} holds {field.size} bytes, not {len(data)}")
        return data
    return _number(value, name, example, 1 << (8 * field.size))


def _elem(layout: Struct, text: str, example: str) -> tuple:
    """One rep element: V sets its first field; V/W its first and last (a register and value)."""
    first, _, last = text.partition("/")
    values = [(layout.fields[0].name, _number(first, layout.fields[0].name, example,
                                              1 << (8 * layout.fields[0].size)))]  # fmt: skip
    if last:
        f = layout.fields[-1]
        values.append((f.name, _number(last, f.name, example, 1 << (8 * f.size))))
    return tuple(values)


PARSERS: dict[str, Callable] = {
    "read": _parse_read,
    "write": _parse_write,
    "hypercall": _parse_hypercall,
    "out": _parse_out,
    "in": _parse_in,
    "send": _parse_send,
    "map": _parse_map,
    "load-driver": _parse_load,
}
