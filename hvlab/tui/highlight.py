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


def short_status(ev: Event) -> str:
    """`ok` for success (the common case, kept quiet); a failure by its name, less the prefix."""
    text = status_text(ev).removeprefix("HV_STATUS_")
    return "ok" if text == "SUCCESS" else text


def event_line(ev: Event) -> str:
    """The columns of `hvlab run`, narrower: no time column, short statuses."""
    what = ev.name + (f" {ev.phase.value}" if ev.phase.value else "")
    return (
        f"{ev.step:>5} {ev.actor:<16} {ev.kind.value:<9} {what:<30} "
        f"{short_status(ev):<10} {note_text(ev)}"
    ).rstrip()


HEADER = f"{'step':>5} {'actor':<16} {'kind':<9} {'what':<30} {'status':<10} note"


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


def event_text(ev: Event) -> Text:
    return highlight(event_line(ev))
