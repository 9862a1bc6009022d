"""Address spaces: each guest's GPA→SPA map, the machine's physical frames by owner, then the
root's map — one cell per page. Every owner has a colour *and* a letter; the frame the current
event touches is ◆, a refused access ✗: readable without colour. Whole rows of one owner are
drawn as one line (`r ×800`), so the frames that matter fit on a small screen; a mark inside
such a run is named on its line. The first line says where the touched page leads:
`A GPA 0x28 → SPA 0x0d8 (B)`.

Drawn line by line (only the rows on screen), and the owner grids are rebuilt only when the
memory layout changed: most steps only move the ◆.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hvlab.model.core.events import Event, EventKind
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.trace_filter import partition_of

OWNER_STYLES = {
    "hypervisor": ("H", "bold white on magenta"),
    "root": ("r", "white on blue"),
}
CHILD_STYLES = ("black on green", "black on yellow", "black on cyan", "white on dark_orange3")
UNMAPPED = ("·", "dim")
TOUCHED = ("◆", "bold black on bright_white")
REFUSED = ("✗", "bold white on red")


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


@dataclass(frozen=True)
class Grid:
    title: str
    cells: tuple[str | None, ...]  # the owner of the frame behind each cell, None if unmapped
    partition: int | None = None  # None: the physical frames


@dataclass
class Picture:
    """The owner grids of one memory layout, and what is needed to place the marks."""

    grids: list[Grid]
    slat: dict[int, dict[int, int]]
    by_name: dict[str, int]
    frames: int
    children: list[str] = field(default_factory=list)

    @property
    def physical(self) -> Grid:
        """The grid of physical frames by owner."""
        return next(g for g in self.grids if g.partition is None)


def picture(data: Mapping) -> Picture:
    frames: dict[int, str] = {}
    slat: dict[int, dict[int, int]] = {}
    for key, value in data.items():
        if key[0] == "frame":
            frames[key[1]] = value[0]
        elif key[0] == "slat":
            slat.setdefault(key[1], {})[key[2]] = value[0]
    names = {pid: data.get(("part", pid, "name"), str(pid)) for pid in data.get(("parts",), ())}
    size = max(frames, default=-1) + 1
    guests, root = [], []
    for pid, name in names.items():
        pages = data.get(("part", pid, "gpa_pages")) or (max(slat.get(pid, {0: 0})) + 1)
        smap = slat.get(pid, {})
        grid = Grid(
            f"{name}: GPA page → owner of the frame it maps ({len(smap)} of {pages} mapped)",
            tuple(frames.get(smap[g]) if g in smap else None for g in range(pages)),
            pid,
        )
        (root if name == "root" else guests).append(grid)
    physical = Grid("physical frames (SPA), by owner", tuple(frames.get(i) for i in range(size)))
    # the guests: owners and pools' owners, but not the root (whose own pool is pool:root)
    children = sorted({o.split(":", 1)[-1] for o in frames.values() if o} - set(OWNER_STYLES))
    return Picture(
        [*guests, physical, *root], slat, {n: p for p, n in names.items()}, size, children
    )


def marks(pic: Picture, ev: Event | None) -> dict[tuple[int | None, int], tuple[str, str]]:
    """(partition or None for physical, cell) → the mark the current event puts there."""
    if ev is None:
        return {}
    d = ev.detail_dict()
    pid = pic.by_name.get(partition_of(ev))
    gpa_pages: set[int] = set()
    spa: set[int] = set()
    if isinstance(d.get("gpa"), int) and pid is not None:
        page = d["gpa"] // PAGE_SIZE
        gpa_pages.add(page)
        if page in pic.slat.get(pid, {}):
            spa.add(pic.slat[pid][page])
        elif pic.by_name.get("root") == pid and page < pic.frames:
            spa.add(page)  # the root's addresses are physical ones (identity map)
    for key in ("frame", "spa"):
        if isinstance(d.get(key), int):
            spa.add(d[key])
    if isinstance(d.get("frames"), tuple):
        spa.update(f for f in d["frames"] if isinstance(f, int))
    mark = REFUSED if (ev.blocked or ev.kind is EventKind.FAULT) else TOUCHED
    out = {(None, f): mark for f in spa}
    out.update({(pid, g): mark for g in gpa_pages})
    return out


def arrow(pic: Picture, ev: Event | None) -> str | None:
    """`A GPA page 0x28 → SPA frame 0x0d8 (B)`: where the page the event touches leads."""
    if ev is None:
        return None
    d = ev.detail_dict()
    name = partition_of(ev)
    pid = pic.by_name.get(name)
    if not isinstance(d.get("gpa"), int) or pid is None:
        frames = [f for f in d.get("frames") or () if isinstance(f, int)]
        if not frames:
            return None
        cells = pic.physical.cells
        owners = ", ".join(
            f"SPA frame {f:#05x} ({cells[f] if f < len(cells) else '?'})" for f in frames[:3]
        )
        return f"{ev.actor}: {owners}"
    page = d["gpa"] // PAGE_SIZE
    frame = pic.slat.get(pid, {}).get(page)
    if frame is None and name == "root" and page < pic.frames:
        frame = page  # the root's identity map
    if frame is None:
        return f"{name} GPA page {page:#x} → unmapped (no frame behind it)"
    owner = pic.physical.cells[frame] if frame < len(pic.physical.cells) else None
    return f"{name} GPA page {page:#x} → SPA frame {frame:#05x} ({owner or 'free'})"


def per_row_for(width: int) -> int:
    return next((n for n in (64, 32, 16) if n + 6 <= width), 8)


class AddressSpaces(ScrollView, can_focus=True):
    """The grids of `picture`, with the marks of `marks`; see the module docstring."""

    DEFAULT_CSS = "AddressSpaces { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key: Hashable = None
        self._picture: Picture | None = None
        self._marks: dict = {}
        self._rows: list[tuple] = []  # ("text", str, style) or ("cells", grid index, start)
        self._width = 0
        self._styles: dict[str, Style] = {}
        self._arrow: str | None = None

    def show(self, data: Mapping, ev: Event | None, width: int, key: Hashable = None) -> None:
        """`key` names the memory layout: the same key means the same owners (None: unknown,
        always rebuild). `width`: the columns to fill."""
        if key is None or key != self._key or self._picture is None:
            self._picture = picture(data)
            self._key = key
            self._width = 0
        self._marks = marks(self._picture, ev)
        self._arrow = arrow(self._picture, ev)
        if width != self._width:
            self._width = width
            self._rows = self._layout(per_row_for(width))
            self.virtual_size = Size(width, len(self._rows))
        self._reveal()
        self.refresh()

    def _layout(self, per_row: int) -> list[tuple]:
        """The rows: the legend, where the touched page leads, then each grid — its title, its
        rows of cells, and each stretch of two or more rows of one owner as one `run` row. The
        layout depends on the owners only, not on the marks (a step moves no row)."""
        pic = self._picture
        rows: list[tuple] = [("legend",), ("pools",), ("legend2",), ("arrow",)]
        for i, grid in enumerate(pic.grids):
            rows.append(("text", grid.title, "bold"))
            cells, run = grid.cells, None  # run: [start, end, owner]
            for start in range(0, len(cells), per_row):
                chunk = cells[start : start + per_row]
                uniform = len(chunk) == per_row and len(set(chunk)) == 1
                if uniform and run is not None and run[2] == chunk[0] and run[1] == start:
                    run[1] = start + per_row
                    continue
                if run is not None:
                    rows += self._run_rows(i, run, per_row)
                    run = None
                if uniform:
                    run = [start, start + per_row, chunk[0]]
                else:
                    rows.append(("cells", i, start, per_row))
            if run is not None:
                rows += self._run_rows(i, run, per_row)
        return rows

    @staticmethod
    def _run_rows(grid: int, run: list, per_row: int) -> list[tuple]:
        start, end, _owner = run
        if end - start <= per_row:  # one row: as it is
            return [("cells", grid, start, per_row)]
        return [("run", grid, start, end)]

    def _reveal(self) -> None:
        """Scroll so that the first marked cell is on screen."""
        if not self._marks or not self.size.height:
            return
        pic = self._picture
        for y, row in enumerate(self._rows):
            if row[0] not in ("cells", "run"):
                continue
            _, gi, start, span = row if row[0] == "cells" else (*row[:3], row[3] - row[2])
            pid = pic.grids[gi].partition
            if any((pid, c) in self._marks for c in range(start, start + span)):
                top = int(self.scroll_offset.y)
                if not top <= y < top + self.size.height:
                    self.scroll_to(y=max(0, y - 2), animate=False, immediate=True)
                return

    def style(self, spec: str) -> Style:
        if spec not in self._styles:
            self._styles[spec] = Style.parse(spec) if spec else Style()
        return self._styles[spec]

    def render_line(self, y: int) -> Strip:
        row_index = int(self.scroll_offset.y) + y
        width = self.size.width
        if row_index >= len(self._rows) or self._picture is None:
            return Strip.blank(width, self.rich_style)
        row = self._rows[row_index]
        pic = self._picture
        if row[0] == "legend":
            segments = [Segment("legend ", self.style("bold"))]
            for owner in ("hypervisor", "root", *pic.children):
                symbol, spec = owner_style(owner, pic.children)
                segments += [Segment(symbol, self.style(spec)), Segment(f" {owner}  ")]
        elif row[0] == "pools":  # pages deposited for the hypervisor's use, on whose behalf
            segments = [Segment("pools  ", self.style("dim"))]
            for name in ("root", *pic.children):  # the root's: for the partitions it creates
                symbol, spec = owner_style(f"pool:{name}", pic.children)
                segments += [Segment(symbol, self.style(spec)), Segment(f" {name}'s  ")]
        elif row[0] == "legend2":
            segments = [Segment("       "), Segment("· unmapped  ", self.style("dim"))]
            for (symbol, spec), what in ((TOUCHED, " touched  "), (REFUSED, " refused")):
                segments += [Segment(symbol, self.style(spec)), Segment(what)]
        elif row[0] == "arrow":
            text = self._arrow or "(this step touches no guest page)"
            segments = [Segment("touched ", self.style("bold")), Segment(text)]
        elif row[0] == "text":
            segments = [Segment(row[1], self.style(row[2]))]
        elif row[0] == "run":
            _, gi, start, end = row
            grid = pic.grids[gi]
            symbol, spec = owner_style(grid.cells[start], pic.children)
            owner = grid.cells[start] or "unmapped"
            segments = [
                Segment(f"{start:#05x} ", self.style("dim")),
                Segment(f"{symbol} ×{end - start}", self.style(spec)),
                Segment(f" {owner}, {start:#x}–{end - 1:#x}", self.style("dim")),
            ]
            for i in range(start, end):  # a mark inside the run, named on its line
                mark = self._marks.get((grid.partition, i))
                if mark is not None:
                    segments += [Segment("  "), Segment(mark[0], self.style(mark[1]))]
                    segments.append(Segment(f" {i:#05x}"))
        else:
            _, gi, start, per_row = row
            grid = pic.grids[gi]
            segments = [Segment(f"{start:#05x} ", self.style("dim"))]
            run, run_spec = [], None
            for i in range(start, min(start + per_row, len(grid.cells))):
                symbol, spec = self._marks.get((grid.partition, i)) or owner_style(
                    grid.cells[i], pic.children
                )
                if spec != run_spec and run:
                    segments.append(Segment("".join(run), self.style(run_spec)))
                    run = []
                run_spec = spec
                run.append(symbol)
            if run:
                segments.append(Segment("".join(run), self.style(run_spec)))
        strip = Strip(segments).crop(int(self.scroll_offset.x), int(self.scroll_offset.x) + width)
        return strip.extend_cell_length(width).apply_style(self.rich_style)
