"""The architecture by layer, with the current event's path numbered along its nodes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hvlab.model.core import topology
from hvlab.model.core.events import Event
from hvlab.model.core.protections import Design

ROWS = (
    ("hypervisor", lambda n: n.layer == "hypervisor"),
    ("root kernel", lambda n: n.layer == "root-kernel"),
    ("root user", lambda n: n.layer == "root-user"),
)
ON_PATH = "bold black on bright_cyan"
BLOCKED = "bold white on red"
IDLE = "dim"


ABBREVIATIONS = {"storage-channel": "stor-chan", "net-channel": "net-chan"}


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


def path_line(ev: Event | None, design: Design) -> Text:
    """`path: A.kernel → hypervisor ║ root.vid ✗` — ║ marks a trust-boundary crossing."""
    text = Text("path: ", style="bold")
    if ev is None or not ev.path:
        text.append("(this event stays inside one component)" if ev else "(before the first step)")
        return text
    bounds = {n.id: n.boundary for n in topology.build(design).nodes}
    known = set(bounds)
    previous = None
    for i, node in enumerate(ev.path):
        where = bounds.get(on_map(node, known) or "", node.split(".")[0])
        if i:
            text.append(
                " ║ " if where != previous else " → ",
                style="bold yellow" if where != previous else "",
            )
        last = i == len(ev.path) - 1
        text.append(node, style=BLOCKED if (last and ev.blocked) else "bold")
        previous = where
    if ev.blocked:
        text.append(f" ✗ blocked by {ev.protection}", style="bold red")
    elif ev.kind.value == "breach":
        text.append(" ✗ BREACH", style="bold red")
    return text


class Topology(Static):
    """Components by layer (hypervisor, root kernel, root user, each child, hardware). Nodes on
    the current event's path are numbered in order; a refused crossing ends on a red ✗ node."""

    DEFAULT_CSS = "Topology { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }"

    def show(self, ev: Event | None, design: Design) -> None:
        topo = topology.build(design)
        known = {n.id for n in topo.nodes}
        order: dict[str, int] = {}
        for node in ev.path if ev else ():
            drawn = on_map(node, known)
            if drawn and drawn not in order:
                order[drawn] = len(order) + 1
        last = on_map(ev.path[-1], known) if ev and ev.path else None
        children = sorted({n.boundary for n in topo.nodes if n.layer == "child"})
        rows = [*ROWS]
        rows += [(f"child {c}", lambda n, c=c: n.boundary == c) for c in children]
        rows.append(("hardware", lambda n: n.layer == "hardware"))
        out = Text()
        for label, wanted in rows:
            out.append(f"{label:<12}", style="bold")
            for node in (n for n in topo.nodes if wanted(n)):
                name = short(node.id)
                if node.id in order:
                    style = BLOCKED if (ev and ev.blocked and node.id == last) else ON_PATH
                    mark = "✗" if style == BLOCKED else str(order[node.id])
                    out.append(f"{mark}:{name}", style=style)
                else:
                    out.append(f" {name}", style=IDLE)
                out.append(" ")
            out.append("\n")
        out.rstrip()
        self.update(out, layout=False)  # the same rows every step
