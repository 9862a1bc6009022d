"""Trace lines as Rich text, coloured through the hvlab Pygments lexer (one source of truth for
what the parts of a trace line are)."""

from __future__ import annotations

from pygments.token import Comment, Generic, Keyword, Name, Number, Operator, String, _TokenType
from rich.text import Text

from hvlab.model.events import Event
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
    return status_text(ev).removeprefix("HV_STATUS_")


def event_line(ev: Event) -> str:
    """The columns of `hvlab run`, narrower: no time, statuses without their HV_STATUS_ prefix."""
    what = ev.name + (f" {ev.phase.value}" if ev.phase.value else "")
    return (
        f"{ev.step:>5} {ev.actor:<16} {ev.kind.value:<9} {what:<30} "
        f"{short_status(ev):<14} {note_text(ev)}"
    ).rstrip()


HEADER = f"{'step':>5} {'actor':<16} {'kind':<9} {'what':<30} {'status':<14} note"


def event_text(ev: Event) -> Text:
    return highlight(event_line(ev))
