"""Address spaces: the machine's physical frames by owner, then each partition's GPA→SPA map,
one cell per page. Every owner has a colour *and* a letter; the touched frame is ◆, a refused
access ✗ — readable without colour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from hvlab.model.events import Event, EventKind
from hvlab.model.hv import PAGE_SIZE
from hvlab.trace_filter import partition_of

OWNER_STYLES = {
    "hypervisor": ("H", "bold white on magenta"),
    "root": ("r", "white on blue"),
}
CHILD_STYLES = ("black on green", "black on yellow", "black on cyan", "white on dark_orange3")
UNMAPPED = ("·", "dim")
TOUCHED = "bold black on bright_white"
REFUSED = "bold white on red"


@dataclass(frozen=True)
class Grid:
    title: str
    cells: tuple[str | None, ...]  # the owner of the frame behind each cell, None if unmapped
    touched: frozenset[int] = frozenset()
    refused: frozenset[int] = frozenset()


def owner_style(owner: str | None, children: list[str]) -> tuple[str, str]:
    if owner is None:
        return UNMAPPED
    if owner in OWNER_STYLES:
        return OWNER_STYLES[owner]
    pool = owner.startswith("pool:")
    name = owner.split(":", 1)[-1]
    style = CHILD_STYLES[children.index(name) % len(CHILD_STYLES)] if name in children else "bold"
    if pool:  # deposited for the hypervisor's own use on that child's behalf
        return name[:1].lower(), style.replace("black on ", "").replace("white on ", "") + " bold"
    return name[:1].upper(), style


def pictures(data: Mapping, ev: Event | None) -> list[Grid]:
    """The grids for a state (the store's mapping) and the event at the cursor."""
    frames: dict[int, str] = {}
    slat: dict[int, dict[int, int]] = {}
    for key, value in data.items():
        if key[0] == "frame":
            frames[key[1]] = value[0]
        elif key[0] == "slat":
            slat.setdefault(key[1], {})[key[2]] = value[0]
    names = {pid: data.get(("part", pid, "name"), str(pid)) for pid in data.get(("parts",), ())}
    by_name = {name: pid for pid, name in names.items()}
    size = max(frames, default=-1) + 1
    touched_spa: set[int] = set()
    touched_gpa: dict[int, set[int]] = {}
    if ev is not None:
        d = ev.detail_dict()
        pid = by_name.get(partition_of(ev))
        if isinstance(d.get("gpa"), int) and pid is not None:
            page = d["gpa"] // PAGE_SIZE
            touched_gpa.setdefault(pid, set()).add(page)
            if page in slat.get(pid, {}):
                touched_spa.add(slat[pid][page])
            elif names.get(pid) == "root" and page < size:
                touched_spa.add(page)  # the root's addresses are physical ones (identity map)
        for key in ("frame", "spa"):
            if isinstance(d.get(key), int):
                touched_spa.add(d[key])
        if isinstance(d.get("frames"), tuple):
            touched_spa.update(f for f in d["frames"] if isinstance(f, int))
    refused = ev is not None and (ev.blocked or ev.kind is EventKind.FAULT)
    physical = Grid(
        "physical frames (SPA), by owner",
        tuple(frames.get(i) for i in range(size)),
        frozenset(() if refused else touched_spa),
        frozenset(touched_spa if refused else ()),
    )
    grids = []
    # guests first (they are small and where isolation shows), then the machine, then the root
    for pid, name in sorted(names.items(), key=lambda item: (item[1] == "root", item[0])):
        pages = data.get(("part", pid, "gpa_pages")) or (max(slat.get(pid, {0: 0}), default=0) + 1)
        smap = slat.get(pid, {})
        hit = touched_gpa.get(pid, set())
        grids.append(
            Grid(
                f"{name}: GPA page → owner of the frame it maps ({len(smap)} of {pages} mapped)",
                tuple(frames.get(smap[g]) if g in smap else None for g in range(pages)),
                frozenset(() if refused else hit),
                frozenset(hit if refused else ()),
            )
        )
    at = len([n for n in names.values() if n != "root"])
    return [*grids[:at], physical, *grids[at:]]


def draw(grids: list[Grid], width: int) -> Text:
    per_row = next((n for n in (64, 32, 16) if n + 6 <= width), 8)
    children = sorted(
        {o.split(":", 1)[-1] for g in grids for o in g.cells if o and o not in OWNER_STYLES}
    )
    out = Text(no_wrap=True, overflow="crop")
    out.append("legend ", style="bold")
    for owner in ["hypervisor", "root", *children, *(f"pool:{c}" for c in children)]:
        symbol, style = owner_style(owner, children)
        out.append(symbol, style=style)
        out.append(f" {owner}  ")
    out.append("\n       ")
    out.append("· unmapped  ", style="dim")
    out.append("◆", style=TOUCHED)
    out.append(" touched  ")
    out.append("✗", style=REFUSED)
    out.append(" refused\n")
    for grid in grids:
        out.append(grid.title + "\n", style="bold")
        for start in range(0, len(grid.cells), per_row):
            out.append(f"{start:#05x} ", style="dim")
            run_style, run = None, []
            for i in range(start, min(start + per_row, len(grid.cells))):
                if i in grid.refused:
                    symbol, style = "✗", REFUSED
                elif i in grid.touched:
                    symbol, style = "◆", TOUCHED
                else:
                    symbol, style = owner_style(grid.cells[i], children)
                if style != run_style and run:
                    out.append("".join(run), style=run_style)
                    run = []
                run_style = style
                run.append(symbol)
            if run:
                out.append("".join(run), style=run_style)
            out.append("\n")
    return out


class AddressSpaces(Static):
    """Frames by owner and each partition's second-level map; see the module docstring."""

    DEFAULT_CSS = "AddressSpaces { text-wrap: nowrap; text-overflow: clip; }"

    def show(self, data: Mapping, ev: Event | None, width: int) -> None:
        """`width`: the columns to fill (this pane may be hidden in a tab, with no size)."""
        self.update(draw(pictures(data, ev), width))
