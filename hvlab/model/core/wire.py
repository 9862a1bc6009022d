"""Wire layouts: the byte layout of every message the model puts on a wire or in a page, in one
form that encodes, decodes and explains it.

A `Struct` names its fields at their real offsets (little-endian integers, big-endian ones where
the protocol is — a SCSI CDB's LBA — and raw bytes); `pack` builds the bytes, `unpack` reads them
back, and `fields` lists them with their offsets for the Detail pane and for moves that name a
message's fields. Every struct registers itself by name, with the source it follows, and a test
holds each one to the table of real offsets in tests/data/hyperv_wire_formats.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

REGISTRY: dict[str, Struct] = {}


@dataclass(frozen=True, slots=True)
class Field:
    """One field: `size` bytes at `offset`; `kind` is "le" (an unsigned little-endian integer),
    "be" (big-endian), "bytes" (raw, e.g. a GUID or a CDB) or "ascii"."""

    name: str
    offset: int
    size: int
    kind: str = "le"

    def read(self, raw: bytes):
        chunk = raw[self.offset : self.offset + self.size].ljust(self.size, b"\0")
        if self.kind == "bytes":
            return chunk
        if self.kind == "ascii":
            return chunk.rstrip(b"\0").decode("ascii", "replace")
        return int.from_bytes(chunk, "big" if self.kind == "be" else "little")

    def write(self, buf: bytearray, value) -> None:
        if self.kind in ("bytes", "ascii"):
            data = value.encode("ascii") if isinstance(value, str) else bytes(value)
            if len(data) > self.size:
                raise ValueError(f"{self.name}: {len(data)} bytes do not fit in {self.size}")
            buf[self.offset : self.offset + len(data)] = data
            return
        if not 0 <= value < 1 << (8 * self.size):
            raise ValueError(f"{self.name}: {value:#x} does not fit in {self.size} bytes")
        order = "big" if self.kind == "be" else "little"
        buf[self.offset : self.offset + self.size] = value.to_bytes(self.size, order)


class Struct:
    """A fixed layout of `size` bytes (a message may carry a variable tail after it)."""

    __slots__ = ("by_name", "fields", "name", "size", "source", "title")

    def __init__(self, name: str, size: int, *fields: Field, source: str, title: str = ""):
        self.name, self.size, self.fields, self.source = name, size, fields, source
        self.title = title or name
        self.by_name = {f.name: f for f in fields}
        for f in fields:
            if f.offset + f.size > size:
                raise ValueError(f"{name}.{f.name} ends past the struct's {size} bytes")
        REGISTRY[name] = self

    def pack(self, tail: bytes = b"", **values) -> bytes:
        """The bytes of this struct with the named fields set (the rest zero), then `tail`."""
        buf = bytearray(self.size)
        for key, value in values.items():
            if key not in self.by_name:
                raise KeyError(f"{self.name} has no field '{key}'")
            self.by_name[key].write(buf, value)
        return bytes(buf) + tail

    def unpack(self, raw: bytes) -> dict:
        return {f.name: f.read(raw) for f in self.fields}

    def nested(self, prefix: str, at: int = 0) -> tuple[Field, ...]:
        """This struct's fields as a member of another: named `prefix` + field, `at` bytes in
        (a message header at the start of every message that has one)."""
        return tuple(Field(prefix + f.name, at + f.offset, f.size, f.kind) for f in self.fields)

    def get(self, raw: bytes, name: str):
        return self.by_name[name].read(raw)

    def explain(self, raw: bytes) -> list[tuple[int, int, str, object]]:
        """(offset, size, field, value) for every field, in offset order: what the Detail pane
        shows for a message of this layout."""
        return [(f.offset, f.size, f.name, f.read(raw)) for f in self.fields]


def le(name: str, offset: int, size: int) -> Field:
    return Field(name, offset, size)


def raw(name: str, offset: int, size: int) -> Field:
    return Field(name, offset, size, "bytes")
