"""What comes into hvlab from outside: files a user names, and text read from them.

Every file a command reads — lessons, trace files, progress, plugin files — comes through
`read_file`, which refuses what is not a regular file (a FIFO would block, a device never ends,
a folder is not a file) and what is over `MAX_BYTES` *before* reading it. TOML goes through
`parse_toml`, which turns every way a document can be bad (invalid UTF-8, invalid TOML, nesting
deep enough to exhaust the parser's recursion) into one line. Text from such files that reaches
a terminal goes through `printable`, so no escape sequence or bidi control in a lesson, a
trace file or a plugin's name is ever written raw.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024  # a lesson is a few KiB; nothing hvlab reads comes near this


class InputFileError(ValueError):
    """One line naming the file and what is wrong with it."""


class UnreadableFileError(InputFileError):
    """The operating system would not let hvlab read the file (permissions, a path too long, an
    I/O error): nothing is known to be wrong with its content."""


def shown(path: os.PathLike | str, limit: int = 160) -> str:
    """A path as an error line names it: escaped, and shortened in the middle when long."""
    text = printable(os.fspath(path))
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


def missing(path: os.PathLike | str, what: str = "file or folder") -> str | None:
    """None when `path` exists; else one line saying why it cannot be found or looked at
    (no such path, a folder hvlab may not search, a name too long)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"{shown(path)}: no such {what}"
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        why = reason(exc) if isinstance(exc, OSError) else "not a valid path"
        return f"{shown(path)}: cannot look at it: {why}"
    return None


def current_folder() -> str:
    """The folder the user is in, or OSError saying in words that it is gone."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise FileNotFoundError(
            0, "the current folder no longer exists; cd to another and start again"
        ) from None


def kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_file(path: os.PathLike | str, what: str = "file", limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; else InputFileError, one line.

    The file is opened without blocking (a FIFO with no writer would hang `open`) and checked
    through the open descriptor, so what is checked is what is read."""
    name = shown(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise UnreadableFileError(f"{name}: cannot read the {what}: {reason(exc)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(
                f"{name}: is {kind_of(info.st_mode)}, not a {what}; name a regular file"
            )
        if info.st_size > limit:
            raise InputFileError(
                f"{name}: {info.st_size / 1e6:.1f} MB is too big for a {what} "
                f"(hvlab reads at most {limit / 1e6:.0f} MB)"
            )
        chunks, total = [], 0
        while total <= limit:  # a file still growing is cut at the limit, then refused
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise InputFileError(f"{name}: grew past {limit / 1e6:.0f} MB while being read")
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFileError(f"{name}: cannot read the {what}: {reason(exc)}") from None
    finally:
        os.close(fd)


def reason(exc: OSError) -> str:
    """The OS's words for an error, without the path it repeats."""
    return exc.strerror or type(exc).__name__


def decode(data: bytes, path: os.PathLike | str, what: str = "file") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{shown(path)}: the {what} is not UTF-8 text (byte {exc.start})"
        ) from None


TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")


def parse_toml(text: str, path: os.PathLike | str, what: str = "file") -> dict:
    """A TOML document, or InputFileError naming the file and the line of the first problem."""
    import tomllib  # not at start-up: most commands read no TOML

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = TOML_AT.search(message)
        where = f"{shown(path)}:{m.group(1)}" if m else shown(path)
        problem = message[: m.start()].strip() if m else message
        raise InputFileError(f"{where}: invalid TOML in the {what}: {problem}") from None
    except RecursionError:
        raise InputFileError(
            f"{shown(path)}: arrays or tables nested too deeply for a {what}"
        ) from None


def read_toml(path: os.PathLike | str, what: str = "file") -> dict:
    return parse_toml(decode(read_file(path, what), path, what), path, what)


def temp_name(path: Path) -> Path:
    """Where a write goes before its rename: beside the target, named with the writer's pid, so
    a later start-up tells a write cut short (its writer gone) from one still running."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file, fsync and rename. The target must be a
    regular file or absent (a FIFO, a device or a folder is refused, never replaced); on any
    failure the temporary file is removed and OSError raised."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(mode):
            raise FileExistsError(errno.EEXIST, f"is {kind_of(mode)}, not a regular file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# C0 and C1 controls (tab and newline kept), DEL, and the Unicode bidi and zero-width
# formatting characters that can make text display other than it reads.
_UNSAFE = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]
_UNSAFE += [0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029]
_UNSAFE += [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSAFE}
_ESCAPES_LINE = {**_ESCAPES, 0x09: "\\t", 0x0A: "\\n"}
_ANY_UNSAFE = re.compile("[" + "".join(re.escape(chr(c)) for c in _UNSAFE) + "]")


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with every control and bidi character shown as an escape (`\\x1b`, `\\u202e`).
    `one_line` escapes tabs and newlines too."""
    return text.translate(_ESCAPES_LINE if one_line else _ESCAPES)


def has_unsafe(text: str) -> bool:
    """Whether `text` holds a control or bidi character (newlines and tabs included)."""
    return bool(_ANY_UNSAFE.search(text)) or "\t" in text or "\n" in text
