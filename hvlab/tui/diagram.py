"""The architecture as a picture: the Hyper-V stack drawn as boxes, laid out from the topology.

Hardware at the bottom, the hypervisor above it, and above that the root partition (its kernel —
VID, VMBus server, VSPs, vswitch, disk driver, drivers it loaded — and its user mode, one worker
process per child) beside each child (its kernel and VSCs). Each partition and the hypervisor is
a trust boundary, drawn with heavy lines; VMBus channels are the pipes between each VSC and its
VSP, in a row of their own. Nothing is placed by hand: a component sits in the box of its trust
boundary and layer as the topology gives them, so the monolithic design's vswitch and driver
loader appear inside the hypervisor's box by themselves, and a loaded driver in the box it was
loaded into.

The current event's path is drawn on it: hops numbered in order, the boxes whose boundary the
path crosses titled in yellow, a refused hop ending on a red ✗. `hops` limits how many hops are
drawn (the player reveals a path hop by hop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from hvlab.model.core import topology
from hvlab.model.core.events import Event
from hvlab.model.core.protections import Design

ON_PATH = "bold black on bright_cyan"
BLOCKED = "bold white on red"
CROSSED = "bold black on yellow"
IDLE = "dim"
TITLE = "bold"
ABBREVIATIONS = {"storage-channel": "stor-chan", "net-channel": "net-chan"}
CHANNEL_VSP = {"storage-channel": ("storvsc", "storvsp"), "net-channel": ("netvsc", "vswitch")}


def short(node_id: str) -> str:
    name = node_id.split(".", 1)[-1] if "." in node_id else node_id
    return ABBREVIATIONS.get(name, name)


def on_map(node_id: str, known: set[str]) -> str | None:
    """The drawn node an actor or path element stands for (`root` is the root kernel)."""
    if node_id in known:
        return node_id
    head = node_id.split(".", 1)[0]
    for guess in (f"{head}.kernel", head):
        if guess in known:
            return guess
    return None


@dataclass
class Box:
    """A trust boundary's box: a title and rows of (node id, label), each row a layer."""

    boundary: str
    title: str
    rows: list[list[tuple[str, str]]]
    heavy: bool = True
    lines: list[list[tuple[str, str]]] = field(default_factory=list)  # rows wrapped to a width

    def wrap(self, inner: int) -> int:
        """Wrap the rows to `inner` cells; returns the inner width used."""
        self.lines = []
        for row in self.rows:
            line: list[tuple[str, str]] = []
            used = 0
            for node, label in row:
                need = len(label) + (1 if line else 0)
                if line and used + need > inner:
                    self.lines.append(line)
                    line, used, need = [], 0, len(label)
                line.append((node, label))
                used += need
            self.lines.append(line)
        widest = max(
            (sum(len(lbl) for _n, lbl in ln) + len(ln) - 1 for ln in self.lines), default=0
        )
        return max(widest, len(self.title) + 2)


def boxes(design: Design, drivers: tuple[tuple[str, str], ...] = ()) -> tuple[list, Box, Box]:
    """(the partitions' boxes: root then the children, the hypervisor's box, hardware) from the
    topology; `drivers` are (where, name) of the drivers loaded at this step."""
    topo = topology.build(design)
    by = {}
    for n in topo.nodes:
        by.setdefault((n.boundary, n.layer), []).append(n)
    root_user = [(n.id, short(n.id)) for n in by.get(("root", "root-user"), [])]
    root_kernel = [(n.id, short(n.id)) for n in by.get(("root", "root-kernel"), [])]
    root_kernel += [(f"root.driver:{name}", f"drv:{name}") for w, name in drivers if w == "root"]
    parts = [Box("root", "root partition", [r for r in (root_user, root_kernel) if r])]
    children = sorted({n.boundary for n in topo.nodes if n.layer == "child"})
    for child in children:
        nodes = [
            (n.id, short(n.id))
            for n in by.get((child, "child"), [])
            if not n.id.endswith("-channel")
        ]
        parts.append(Box(child, f"child {child}", [nodes[:1], nodes[1:]]))
    hv = [(n.id, short(n.id)) for n in by.get(("hypervisor", "hypervisor"), [])]
    hv += [(f"hypervisor.driver:{name}", f"drv:{name}") for w, name in drivers if w != "root"]
    hardware = [(n.id, short(n.id)) for n in by.get(("hardware", "hardware"), [])]
    return (
        parts,
        Box("hypervisor", "hypervisor", [hv]),
        Box("hardware", "hardware", [hardware], heavy=False),
    )


def channels(design: Design) -> list[tuple[str, str, str]]:
    """Each VMBus channel as (the VSC, the channel, the VSP it ends at), from the topology."""
    topo = topology.build(design)
    ends = {}
    for e in topo.edges:
        for a, b in ((e.a, e.b), (e.b, e.a)):
            if a.endswith("-channel") and not b.startswith(a.split(".")[0] + "."):
                ends[a] = b
    out = []
    for chan in sorted(ends):
        child, kind = chan.split(".", 1)
        out.append((f"{child}.{CHANNEL_VSP[kind][0]}", chan, ends[chan]))
    return out


def numbering(ev: Event | None, known: set[str], hops: int | None) -> tuple[dict, str | None]:
    order: dict[str, int] = {}
    for node in (ev.path if ev else ())[: hops if hops is not None else None]:
        drawn = on_map(node, known) or node
        if drawn not in order:
            order[drawn] = len(order) + 1
    last = None
    if ev and ev.path and (hops is None or hops >= len(ev.path)):
        last = on_map(ev.path[-1], known) or ev.path[-1]
    return order, last


def _scene(ev: Event | None, design: Design, drivers, hops):
    """What both drawings need: the boxes and pipes, the path's numbering, where it ends, the
    boundaries it crosses, and how one component is drawn (`token(node, label)`)."""
    parts, hv, hardware = boxes(design, drivers)
    known = {n for box in (*parts, hv, hardware) for row in box.rows for n, _ in row}
    pipes = channels(design)
    known |= {c for _v, c, _s in pipes}
    order, last = numbering(ev, known, hops)
    # a refused hop ends on ✗; a breach on ! (both red: where it stopped, where it leaked)
    blocked = bool(ev and (ev.blocked or ev.kind.value == "breach") and last)
    end_mark = "!" if ev is not None and ev.kind.value == "breach" else "✗"
    crossed = _crossed(ev, design, known, hops)

    def token(node: str, label: str) -> tuple[str, str]:
        if node in order:
            end = blocked and node == last
            return f"{end_mark if end else order[node]}:{label}", BLOCKED if end else ON_PATH
        return label, IDLE

    return parts, hv, hardware, pipes, order, last, blocked, crossed, token


def draw(
    ev: Event | None,
    design: Design,
    width: int,
    drivers: tuple[tuple[str, str], ...] = (),
    hops: int | None = None,
) -> Text:
    """The diagram, at most `width` cells wide, with the event's path on it."""
    parts, hv, hardware, pipes, order, last, blocked, crossed, token = _scene(
        ev, design, drivers, hops
    )

    # the partitions side by side: each child's box as narrow as its content allows, the root's
    # the rest of the width (5 cells of frame and gap a box)
    for box in parts:
        box.rows = [[(n, token(n, lbl)[0]) for n, lbl in row] for row in box.rows]
    widths = [0] + [box.wrap(max(10, (width - 5 * len(parts)) // len(parts))) for box in parts[1:]]
    widths[0] = parts[0].wrap(max(10, width - sum(w + 5 for w in widths[1:]) - 5))
    out = Text(no_wrap=True, overflow="crop")
    height = max(len(b.lines) for b in parts)
    _frame_row(out, parts, widths, height, order, crossed, blocked, last)
    # the VMBus pipes: a VSC ══ its channel ══ the VSP
    out.append("\n")
    line = Text(" VMBus ", style=TITLE)
    for vsc, chan, vsp in pipes:
        piece = Text()
        for i, node in enumerate((vsc, chan, vsp)):
            if i:
                piece.append("═", style="bold" if node in order else IDLE)
            label, style = token(node, short(node) if node != vsc else vsc.replace(".", ":"))
            piece.append(label, style=style)
        if line.cell_len + piece.cell_len + 2 > width:
            out.append_text(line)
            out.append("\n")
            line = Text("       ")
        line.append_text(piece)
        line.append("  ")
    out.append_text(line)
    # the hypervisor and the hardware under everything, the width of the row above
    full = sum(w + 5 for w in widths) - 5
    for box in (hv, hardware):
        box.rows = [[(n, token(n, lbl)[0]) for n, lbl in row] for row in box.rows]
        box.wrap(full)
        out.append("\n")
        _frame_row(out, [box], [full], len(box.lines), order, crossed, blocked, last)
    return out


def _crossed(ev, design, known, hops) -> set[str]:
    """The boundaries the path crosses into (from the second hop on)."""
    if ev is None or not ev.path:
        return set()
    bounds = {n.id: n.boundary for n in topology.build(design).nodes}
    seen, previous = set(), None
    for node in ev.path[: hops if hops is not None else None]:
        drawn = on_map(node, known) or node
        where = bounds.get(drawn, drawn.split(".")[0])
        if previous is not None and where != previous:
            seen |= {where, previous}
        previous = where
    return seen


def _frame_row(out: Text, row: list[Box], widths: list[int], height: int, order, crossed,
               blocked, last) -> None:  # fmt: skip
    """Boxes side by side: top border with the title, the wrapped lines, the bottom border."""
    for i, (box, w) in enumerate(zip(row, widths, strict=True)):
        h, v, tl, tr = ("━", "┃", "┏", "┓") if box.heavy else ("─", "│", "┌", "┐")
        title = f" {box.title} "
        style = CROSSED if box.boundary in crossed else TITLE
        out.append(tl + h, style="bold" if box.heavy else IDLE)
        out.append(title, style=style)
        out.append(h * max(0, w + 1 - len(title)) + tr, style="bold" if box.heavy else IDLE)
        if i < len(row) - 1:
            out.append(" ")
    for y in range(height):
        out.append("\n")
        for i, (box, w) in enumerate(zip(row, widths, strict=True)):
            v = "┃" if box.heavy else "│"
            out.append(v + " ", style="bold" if box.heavy else IDLE)
            used = 0
            for j, (node, label) in enumerate(box.lines[y] if y < len(box.lines) else []):
                if j:
                    out.append(" ")
                    used += 1
                if node in order:
                    style = BLOCKED if (blocked and node == last) else ON_PATH
                else:
                    style = IDLE
                out.append(label, style=style)
                used += len(label)
            out.append(" " * max(0, w - used) + " " + v, style="bold" if box.heavy else IDLE)
            if i < len(row) - 1:
                out.append(" ")
    out.append("\n")
    for i, (box, w) in enumerate(zip(row, widths, strict=True)):
        h, bl, br = ("━", "┗", "┛") if box.heavy else ("─", "└", "┘")
        out.append(bl + h * (w + 2) + br, style="bold" if box.heavy else IDLE)
        if i < len(row) - 1:
            out.append(" ")


def draw_compact(
    ev: Event | None,
    design: Design,
    width: int,
    drivers: tuple[tuple[str, str], ...] = (),
    hops: int | None = None,
) -> Text:
    """The same picture in a few lines for a small terminal: each trust boundary as
    `┃name: components┃`, the partitions first, then the VMBus pipes, then the hypervisor and
    the hardware — the path numbered on it as in `draw`."""
    parts, hv, hardware, pipes, _order, _last, _stop, crossed, token = _scene(
        ev, design, drivers, hops
    )
    out = Text(overflow="fold")

    def node(n: str, label: str) -> None:
        out.append(*token(n, label))

    def box(b: Box) -> None:
        edge = "┃" if b.heavy else "│"
        out.append(edge, "bold")
        name = b.title.replace("root partition", "root").replace("child ", "")
        out.append(f"{name}:", CROSSED if b.boundary in crossed else TITLE)
        for row in b.rows:
            for n, label in row:
                out.append(" ")
                node(n, label)
        out.append(edge + " ", "bold")

    for b in parts:
        box(b)
    out.append("\n")
    out.append("VMBus", TITLE)
    owner = None
    for vsc, chan, vsp in pipes:  # grouped by partition, each named once: "A: netvsc═net═…"
        out.append(" ")
        partition, _, driver = vsc.partition(".")
        if partition != owner:
            owner = partition
            out.append(f"{partition}: ", TITLE)
        for i, (n, label) in enumerate(
            ((vsc, driver), (chan, short(chan).removesuffix("-chan")), (vsp, short(vsp)))
        ):
            if i:
                out.append("═", IDLE)
            node(n, label)
    out.append("\n")
    box(hv)
    box(hardware)
    return out
