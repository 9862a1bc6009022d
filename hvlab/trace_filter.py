"""Trace filters: `actor=root.vid partition=B kind=hypercall channel=net plugin=mitm-driver text`.

Terms of the same field are alternatives (`actor=A actor=B`), different fields must all match,
and a bare word matches the event's name or actor.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvlab.model.core.events import Event

FIELDS = ("actor", "partition", "kind", "channel", "plugin")


@dataclass(frozen=True)
class TraceFilter:
    terms: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> TraceFilter:
        terms = []
        for word in text.split():
            field, sep, value = word.partition("=")
            if not sep:
                terms.append(("text", word.lower()))
                continue
            if field not in FIELDS:
                raise ValueError(
                    f"unknown filter field '{field}' (valid: {', '.join(FIELDS)}; or a bare word)"
                )
            if not value:
                raise ValueError(f"filter '{word}' needs a value, e.g. {field}=B")
            terms.append((field, value.lower()))
        return cls(tuple(terms))

    @property
    def active(self) -> bool:
        return bool(self.terms)

    def describe(self) -> str:
        return " ".join(v if f == "text" else f"{f}={v}" for f, v in self.terms) or "none"

    def matches(self, ev: Event) -> bool:
        by_field: dict[str, list[str]] = {}
        for f, v in self.terms:
            by_field.setdefault(f, []).append(v)
        return all(any(_match(ev, f, v) for v in values) for f, values in by_field.items())


def partition_of(ev: Event) -> str:
    d = ev.detail_dict()
    return str(d.get("partition") or ev.actor.split(".")[0])


def _match(ev: Event, field: str, value: str) -> bool:
    if field == "actor":
        actor = ev.actor.lower()
        return actor == value or actor.startswith(value + ".")
    if field == "partition":
        d = ev.detail_dict()
        names = {partition_of(ev).lower(), str(d.get("to", "")).lower()}
        return value in names
    if field == "kind":
        return ev.kind.value == value
    if field == "channel":
        d = ev.detail_dict()
        if str(d.get("relid", "")) == value:
            return True
        word = {"net": "net-channel", "network": "net-channel", "storage": "storage-channel"}
        wanted = word.get(value, value)
        return any(wanted in node for node in ev.path)
    if field == "plugin":
        return (ev.scope or "").lower() == value or f":{value}" in ev.actor.lower()
    return value in ev.name.lower() or value in ev.actor.lower()
