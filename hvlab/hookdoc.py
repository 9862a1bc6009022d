"""Render the hook reference in docs/plugins.md from the hook specifications' docstrings."""

from __future__ import annotations

import inspect

from hvlab import hookspecs

START, END = "<!-- hooks:start -->", "<!-- hooks:end -->"


def hooks() -> list:
    return [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("hvlab_")]


def family(fn) -> str:
    source = inspect.getsource(hookspecs)
    before = source[: source.index(f"def {fn.__name__}(")]
    return before.rsplit("# -- ", 1)[1].split(" ", 1)[0]


def reference() -> str:
    out = []
    order = {"catalogue": 0, "sites": 1, "observers": 2, "lifecycle": 3}
    for fn in sorted(hooks(), key=lambda f: (order.get(family(f), 9), f.__code__.co_firstlineno)):
        sig = str(inspect.signature(fn)).replace("'", "")
        out += [
            f"### `{fn.__name__}{sig}`",
            "",
            f"*{family(fn)}*",
            "",
            inspect.cleandoc(fn.__doc__ or ""),
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


# What each operation a plugin yields gives back, and a line using it (the signatures and the
# first line of each docstring come from hvlab.model.core.ops itself).
OPERATIONS = {
    "Read": ("the bytes, or None if the access failed (a fault, an unmapped page)",
             "data = yield Read(GUEST_SECRET_PAGE * PAGE_SIZE, 16)"),
    "Write": ("True on success, False if the access failed",
              "ok = yield Write(0x2000, b\"\\x00\" * 8)"),
    "Call": ("a HypercallResult: `.status` (an HvStatus), `.ok`, `.reps`, `.output`",
             "r = yield Call(HvCallCode.HvCallPostMessage, header=pack(1, 1, 8), elems=())"),
    "RawHypercall": ("a HypercallResult, or one with `.fault` (`#UD`) with no hypercall page",
                     "r = yield RawHypercall(HypercallInput.encode(0x4E, rep_count=1))"),
    "WriteMsr": ("True if the write was accepted, False if the MSR refused it",
                 "yield WriteMsr(0x40000001, page << 12 | 1)  # the hypercall page"),
    "PlantPage": ("True; which choice it loaded becomes a canary the oracle watches (learned "
                  "through page combining)",
                  "yield PlantPage(\"A-build\", 30 * PAGE_SIZE, (b\"v1\", b\"v2\"))"),
    "PlantSecret": ("None; the secret becomes a canary the oracle watches",
                    "yield PlantSecret(\"A-mine\", GUEST_SECRET_PAGE * PAGE_SIZE)"),
    "PortIo": ("the bytes read by an IN (all ones where nothing answers); b\"\" for an OUT",
               "status = yield PortIo(0x1F7, size=1)"),
    "Leak": ("the frame number the canary lives in, or None",
             "frame = yield Leak(\"B-secret\")"),
    "LoadDriver": ("True if the driver was installed, False if refused",
                   "installed = yield LoadDriver(\"mitm\", \"hypervisor\")"),
    "InjectDriver": ("True if the maintenance interface installed it, False if there is none",
                     "yield InjectDriver(\"mitm\")"),
    "WaitUntil": ("None, once `cond` holds (a plugin's condition gets a read-only view)",
                  "yield WaitUntil(children_booted, \"both guests booted\")"),
    "BeginProbe": ("None; the events until EndProbe are judged as this probe's",
                   "yield BeginProbe(\"my-attack\", \"what it tries\")"),
    "EndProbe": ("None", "yield EndProbe()"),
    "Do": ("not for plugins: the model's helpers (`disk_io`, …) yield it; a plugin's own Do "
           "stops its program", "yield from disk_io(actor, CDB_WRITE, lba=10)"),
}  # fmt: skip


def operations() -> str:
    from hvlab.model.core import guard

    out = ["| operation | what it does | result | example |", "|---|---|---|---|"]
    for op in sorted(guard.PLUGIN_OPS, key=lambda t: (t.__name__ == "Do", t.__name__)):
        fields = []
        for name in op._fields:
            default = op._field_defaults.get(name, inspect.Parameter.empty)
            fields.append(name if default is inspect.Parameter.empty else f"{name}={default!r}")
        doc = inspect.cleandoc(op.__doc__ or "")
        first = doc.split("\n\n")[0].replace("\n", " ") if not doc.startswith(op.__name__) else ""
        result, example = OPERATIONS[op.__name__]
        row = (f"`{op.__name__}({', '.join(fields)})`", first, result, f"`{example}`")
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(out) + "\n"


OWN_IO = "its own, from the layout"  # the root's hypercall pages are in its layout, not fixed


def attackers_map() -> str:
    """The machine as an attacker finds it once `boot` is done, read off the model itself."""
    from hvlab.lab import Lab
    from hvlab.matrix import all_designs
    from hvlab.model.core.layout import CHILDREN, GUEST_INPUT_PAGE, GUEST_OUTPUT_PAGE, PAGE_SIZE
    from hvlab.model.vmbus.channels import (
        CHANNEL_CONNECTION,
        EVENT_CONNECTION,
        VMBUS_CONNECTION,
        Device,
    )
    from hvlab.plugins import load_catalogue

    data = Lab("boot").state.data
    secrets = {c.name: c.secret_gpa for c in CHILDREN}
    out = [
        "| partition | id | parent | RAM (pages) | hypercall page | input / output pages | "
        "its secret |",
        "|---|---|---|---|---|---|---|",
    ]
    for pid in data[("parts",)]:
        name = data[("part", pid, "name")]
        parent = data.get(("part", pid, "parent"))
        page = data.get(("part", pid, "hypercall_page"))
        io = f"GPA {GUEST_INPUT_PAGE * PAGE_SIZE:#x} / {GUEST_OUTPUT_PAGE * PAGE_SIZE:#x}"
        secret = f"`{name}-secret` at GPA {secrets[name]:#x}" if name in secrets else "-"
        out.append(
            f"| {name} | {pid} | {data[('part', parent, 'name')] if parent else '-'} | "
            f"{data[('part', pid, 'gpa_pages')]} | "
            f"{'GPA ' + hex(page * PAGE_SIZE) if page is not None else '-'} | "
            f"{io if name != 'root' else OWN_IO} | {secret} |"
        )
    out += [
        "",
        "| channel (relid) | owner | device | ring pages (GPAs) | its connection id |",
        "|---|---|---|---|---|",
    ]
    relids = sorted({k[1] for k in data if k[0] == "chan" and k[2] == "owner"})
    for relid in relids:
        owner = data[("part", data[("chan", relid, "owner")], "name")]
        device = Device(data[("chan", relid, "device")]).name.lower()
        pages = ", ".join(hex(g * PAGE_SIZE) for g in data[("chan", relid, "gpns")])
        out.append(f"| {relid} | {owner} | {device} | {pages} | {CHANNEL_CONNECTION + relid:#x} |")
    cat = load_catalogue([], echo=False)
    designs = len(all_designs(cat.extra_protections))
    out += [
        "",
        f"Control messages go to connection {VMBUS_CONNECTION} (VMBUS_MESSAGE_CONNECTION_ID), "
        f"the shared event connection is {EVENT_CONNECTION}. Secrets are canaries: `Leak(name)` "
        "gives the frame one lives in. The matrix runs every attack under "
        f"{designs:,} designs: 2 to the power of the protections, counting the "
        f"{len(cat.extra_protections)} that plugins shipped with hvlab add "
        f"({', '.join(cat.extra_protections)}).",
    ]
    return "\n".join(out) + "\n"


SECTIONS = {"hooks": reference, "operations": operations, "map": attackers_map}


def render(doc: str) -> str:
    """Every generated section of docs/plugins.md, rendered afresh between its markers."""
    for name, make in SECTIONS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in doc:
            continue
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        doc = f"{head}{start}\n{make()}{end}{tail}"
    return doc


if __name__ == "__main__":  # python -m hvlab.hookdoc rewrites docs/plugins.md in place
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
    path.write_text(render(path.read_text()))
