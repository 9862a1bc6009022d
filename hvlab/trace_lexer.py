"""A Pygments lexer for hvlab's trace format (`hvlab run` output, the TUI's timeline).

Registered under the `pygments.lexers` entry point, so `pygmentize -l hvlab trace.txt` works.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (
    Comment,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    Text,
    Whitespace,
)

from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor.constants import HvStatus

# every failing status, also without its HV_STATUS_ prefix (the TUI shortens them)
FAILURES = "|".join(s.name for s in HvStatus if s.name != "SUCCESS")
# and as the timeline shortens them (hvlab.tui.highlight.STATUS_SHORT)
FAILURES += "|OP_DENIED|ACC_DENIED|BAD_[A-Z]+|NO_MEMORY|NO_BUFFERS"
KINDS = "|".join(kind.value for kind in EventKind)  # every kind of event, from the model


class HvlabTraceLexer(RegexLexer):
    """Trace lines: step, time, actor, kind, what, status, notes; then the outcome lines."""

    name = "hvlab trace"
    aliases = ["hvlab", "hvlab-trace"]
    filenames = ["*.hvtrace"]
    mimetypes = ["text/x-hvlab-trace"]

    tokens = {
        "root": [
            (r"^ *step +time .*\n?", Generic.Heading),
            (r"^hvlab run .*\n?", Generic.Heading),
            (r"^(outcome:)( .*\n?)", bygroups(Generic.Subheading, Generic.Strong)),
            (r"^(digest )([0-9a-f]+)", bygroups(Comment, Comment.Hashbang)),
            (  # the TUI's timeline drops the time column
                r"^( *)(\d+)( +)(\S+)( +)(" + KINDS + r")\b",
                bygroups(Whitespace, Number, Whitespace, Name.Variable, Whitespace, Keyword.Type),
            ),
            (
                r"^( *)(\d+)( +)(\d+)( +)(\S+)( +)(" + KINDS + r")\b",
                bygroups(
                    Whitespace,
                    Number,
                    Whitespace,
                    Number.Integer.Long,
                    Whitespace,
                    Name.Variable,
                    Whitespace,
                    Keyword.Type,
                ),
            ),
            (r"BREACHED\b", Generic.Error),
            (r"\bblocked by\b", Generic.Strong),
            (r"HvCall\w+", Name.Function),
            (r"\b(entry|validate|dispatch|complete)\b", Name.Attribute),
            (r"(HV_STATUS_)?SUCCESS\b|(?<= )ok(?= |$)", Generic.Inserted),
            (r"\b(" + FAILURES + r")\b", Generic.Deleted),
            (r"HV_STATUS_\w+|HvStatus\.\w+|#UD\b", Generic.Deleted),
            (r"\[[\w:.-]+\]", Name.Exception),
            (r"([\w-]+)(=)", bygroups(Name.Attribute, Operator)),
            (r"0x[0-9a-fA-F]+", Number.Hex),
            (r"\b\d+\b", Number),
            (r"\([\w:. -]+\)", Comment),
            (r"'[^'\n]*'", String),
            (r"\s+", Whitespace),
            (r"[^\s\[\]()=']+", Text),
            (r".", Text),
        ]
    }
