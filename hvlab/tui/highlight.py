"""Trace lines as Rich text, coloured through the hvlab Pygments lexer (one source of truth for
what the parts of a trace line are)."""

from __future__ import annotations

from pygments.token import Comment, Generic, Keyword, Name, Number, Operator, String, _TokenType
from rich.text import Text

from hvlab.model.core.events import Event
from hvlab.render import note_text, status_text
from hvlab.trace_lexer import HvlabTraceLexer

STYLES: dict[_TokenType, str] = {
    Generic.Heading: "bold",
    Generic.Subheading: "bold",
    Generic.Strong: "bold",
    Generic.Error: "bold red",
    Generic.Inserted: "green",
    Generic.Deleted: "bold red",
    Number: "cyan",
    Number.Integer.Long: "dim",
    Number.Hex: "cyan",
    Name.Variable: "bold",
    Name.Function: "yellow",
    Name.Attribute: "magenta",
    Name.Exception: "bold white on red",
    Keyword.Type: "blue",
    Operator: "dim",
    String: "green",
    Comment: "dim italic",
}

_LEXER = HvlabTraceLexer()


def style_of(token: _TokenType) -> str:
    while token is not None:
        if token in STYLES:
            return STYLES[token]
        token = token.parent
    return ""


def highlight(line: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for token, value in _LEXER.get_tokens(line):
        text.append(value.rstrip("\n"), style_of(token))
    return text


# The timeline's columns have fixed widths; long names are shortened by these fixed tables (the
# Detail pane and `hvlab run` keep the full names), and cut with … only past them.
STATUS_SHORT = {
    "OPERATION_DENIED": "OP_DENIED", "ACCESS_DENIED": "ACC_DENIED",
    "INVALID_HYPERCALL_CODE": "BAD_CODE", "INVALID_HYPERCALL_INPUT": "BAD_INPUT",
    "INVALID_PARAMETER": "BAD_PARAM", "INVALID_ALIGNMENT": "BAD_ALIGN",
    "INVALID_PARTITION_ID": "BAD_PARTID", "INVALID_PARTITION_STATE": "BAD_STATE",
    "INVALID_VP_INDEX": "BAD_VP", "INSUFFICIENT_MEMORY": "NO_MEMORY",
    "INSUFFICIENT_BUFFERS": "NO_BUFFERS", "INVALID_CONNECTION_ID": "BAD_CONN",
    "INVALID_PORT_ID": "BAD_PORT", "INVALID_VP_STATE": "BAD_VPSTAT",
    # SynIC message types (HvMessageType…), the status of an intercept's event
    "UnmappedGpa": "Unmapped", "GpaIntercept": "GpaInterc", "X64IoPortIntercept": "IoPort",
}  # fmt: skip
PREFIX_SHORT = (
    ("hypervisor.driver:", "hv.drv:"), ("root.driver:", "root.drv:"), ("hypervisor.", "hv."),
    ("VSTOR_OPERATION_", "VSTOR_"), ("NVSP_MSG1_TYPE_", "NVSP_"), ("NVSP_MSG_TYPE_", "NVSP_"),
    ("CHANNELMSG_", "CHMSG_"), ("REMOTE_NDIS_", "RNDIS_"), ("HvCall", ""),
)  # fmt: skip


def fit(text: str, width: int) -> str:
    """`text` in `width` cells: a fixed abbreviation first, then cut with …"""
    if len(text) <= width:
        return text
    for long, short in PREFIX_SHORT:
        text = text.replace(long, short)
    return text if len(text) <= width else text[: width - 1] + "…"


def short_status(ev: Event) -> str:
    """`ok` for success (the common case, kept quiet); a failure by its name, less the prefix,
    shortened by a fixed table so it fits its column (`OP_DENIED`)."""
    text = status_text(ev).removeprefix("HV_STATUS_").removeprefix("HvMessageType")
    return "ok" if text == "SUCCESS" else STATUS_SHORT.get(text, text)


def widths_for(width: int, actors=()) -> tuple[int, int]:
    """(actor, what) column widths for a timeline `width` cells wide: the actor column as wide
    as the run's longest (shortened) actor, at most 16; `what` takes the rest, 10 to 30, so the
    status column is not cut down to a lesson's narrow left column."""
    actor = min(16, max((len(fit(a, 16)) for a in actors), default=16))
    fixed = 5 + 1 + actor + 1 + 9 + 1 + 1 + 10
    return actor, max(10, min(30, width - fixed))


def event_line(ev: Event, actor: int = 16, what_width: int = 30) -> str:
    """The columns of `hvlab run`, narrower: no time column, short statuses."""
    what = ev.name + (f" {ev.phase.value}" if ev.phase.value else "")
    return (
        f"{ev.step:>5} {fit(ev.actor, actor):<{actor}} {ev.kind.value:<9} "
        f"{fit(what, what_width):<{what_width}} {fit(short_status(ev), 10):<10} {note_text(ev)}"
    ).rstrip()


def header(actor: int = 16, what_width: int = 30) -> str:
    return f"{'step':>5} {'actor':<{actor}} {'kind':<9} {'what':<{what_width}} {'status':<10} note"


HEADER = header()


def compact_line(ev: Event) -> str:
    """Step, actor, what, and only a failing status or the deciding protection."""
    parts = [f"{ev.step:>4}", ev.actor, ev.name]
    if ev.phase.value:
        parts.append(ev.phase.value)
    status = short_status(ev)
    if status and status != "ok":
        parts.append(status)
    if ev.blocked:
        parts.append(f"✗ {ev.protection}")
    return " ".join(parts)


def event_text(ev: Event, actor: int = 16, what_width: int = 30) -> Text:
    return highlight(event_line(ev, actor, what_width))
