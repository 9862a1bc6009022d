"""Where the command line writes: standard output and error, made safe in one place.

`guarded_streams()` wraps both streams for the length of a command. Through the wrappers, text
read from files can never put an escape sequence or a bidi control on the terminal (see
`userfiles.printable`); a terminal whose encoding is not UTF-8 (`PYTHONIOENCODING=ascii`, a C
locale) gets ASCII stand-ins for hvlab's arrows and marks instead of an exception; and a write
that fails — a full disk, a closed descriptor, a reader that went away — is raised as
`OutputError`, which `cli.main` turns into one line and a non-zero exit.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys

from hvlab.userfiles import printable

# What hvlab prints beyond ASCII, and what stands in for it where the terminal cannot show it.
ASCII_STAND_INS = str.maketrans(
    {
        "→": "->", "←": "<-", "…": "...", "—": "-", "–": "-", "≤": "<=", "≥": ">=", "×": "x",
        "✗": "x", "✓": "v", "◆": "*", "║": "|", "│": "|", "─": "-", "·": ".", "‘": "'",
        "’": "'", "“": '"', "”": '"', "µ": "u", "²": "2",
    }
)  # fmt: skip


class OutputError(Exception):
    """Writing to standard output or error failed; `broken_pipe` when the reader went away."""

    def __init__(self, stream: str, exc: OSError | None) -> None:
        self.stream = stream
        self.broken_pipe = isinstance(exc, BrokenPipeError) or getattr(exc, "errno", 0) in (
            errno.EPIPE,
        )
        closed = exc is None or exc.errno == errno.EBADF or not exc.strerror
        why = "it is closed" if closed else exc.strerror
        super().__init__(f"cannot write to standard {stream}: {why}")


class GuardedStream(io.TextIOBase):
    """A text stream in front of `raw` that escapes, encodes what it can, and names failures."""

    def __init__(self, raw, name: str, *, quiet: bool = False) -> None:
        super().__init__()
        self.raw, self.name_, self.quiet = raw, name, quiet
        encoding = (getattr(raw, "encoding", None) or "utf-8").lower().replace("_", "-")
        self.unicode = encoding.startswith("utf")
        if raw is not None and not self.unicode:
            with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
                raw.reconfigure(errors="replace")

    def _call(self, method: str, *args):
        try:
            if self.raw is None:
                raise OutputError(self.name_, None)
            try:
                return getattr(self.raw, method)(*args)
            except (OSError, ValueError) as exc:  # ValueError: I/O on a closed file
                raise OutputError(self.name_, exc if isinstance(exc, OSError) else None) from None
        except OutputError:
            if self.quiet:  # a warning that cannot be shown must not end the command
                return None
            raise

    def write(self, text: str) -> int:
        text = printable(text)
        if not self.unicode:
            text = text.translate(ASCII_STAND_INS)
        self._call("write", text)
        return len(text)

    def flush(self) -> None:
        self._call("flush")

    def isatty(self) -> bool:
        try:
            return self.raw is not None and self.raw.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self.raw is None:
            raise io.UnsupportedOperation("standard stream is closed")
        return self.raw.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self.raw, "encoding", "utf-8")


@contextlib.contextmanager
def guarded_streams():
    """Install the guarded streams for one command; the originals come back afterwards."""
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout = GuardedStream(old_out, "output")
    sys.stderr = GuardedStream(old_err, "error", quiet=True)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old_out, old_err


@contextlib.contextmanager
def raw_streams():
    """The streams as they were, for a library that draws on the terminal itself (Textual's
    error report, textual-serve's banner): its escape sequences are meant for the terminal."""
    guarded_out, guarded_err = sys.stdout, sys.stderr
    sys.stdout = getattr(guarded_out, "raw", guarded_out)
    sys.stderr = getattr(guarded_err, "raw", guarded_err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = guarded_out, guarded_err


def silence_stdout() -> None:
    """After a failed write, point descriptor 1 at /dev/null so the interpreter's own flush at
    exit has nowhere to fail (and prints no 'Exception ignored' of its own)."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def say_error(line: str) -> None:
    """One line on standard error (dropped if standard error does not work: nowhere to say it);
    a line break inside it — from a name the user typed — is shown as `\\n`, not made."""
    sys.stderr.write(f"hvlab: {printable(line, one_line=True)}\n")
    sys.stderr.flush()
