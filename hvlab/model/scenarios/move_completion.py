"""Tab completion for the move line: what the last word of a move may become, from the model's
own tables (principals, actions, hypercall names, each call's field names)."""

from __future__ import annotations

from hvlab.model.scenarios.move_language import ACTIONS, CHILD_NAMES, HEAD, call_names, call_spec


def candidates(line: str, drivers: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """What the last word of `line` may become: (the word as typed, the words it may be), from
    the model's own tables. `drivers` are the loaded ones, as `root.driver:NAME`."""
    found = HEAD.match(line)
    if found is None:  # still the principal
        word = line.strip()
        return word, [p + ":" for p in ("root", *CHILD_NAMES, *drivers) if p.startswith(word)]
    words = found.group(2).split()
    if not words or line.endswith(" "):
        words.append("")
    word, before = words[-1], words[:-1]
    if not before:
        return word, [a for a in ACTIONS if a.startswith(word)]
    action = before[0]
    if action == "hypercall":
        if len(before) == 1:
            names = call_names()
            return word, [n for n in names if n.lower().startswith(word.lower())] or [
                n for n in names if word.lower() in n.lower()
            ]
        spec = call_spec(before[1])
        fields = (
            [f.name.split(".")[-1] + "=" for f in spec.layout.fields]
            if spec and spec.layout
            else []
        )
        extra = ["partition="] if any("partition_id" in f for f in fields) else []
        options = [*extra, *fields, "elems=", "rep=", "start=", "fast", "raw="]
        return word, [o for o in options if o.startswith(word)]
    if action == "map" and len(before) == 1:
        return word, [c for c in CHILD_NAMES if c.startswith(word)]
    if action == "send" and len(before) == 1:
        return word, [d for d in ("storage", "net") if d.startswith(word)]
    if action == "send" and before[1:] == ["storage"]:
        return word, [d for d in ("read", "write") if d.startswith(word)]
    if action == "send" and before[1:] == ["net"]:
        return word, [c for c in CHILD_NAMES if c.startswith(word)]
    if action == "load-driver" and len(before) > 1:
        return word, [o for o in ("into=hypervisor", "into=root") if o.startswith(word)]
    return word, []


def complete(line: str, drivers: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """Tab: the line with its last word completed as far as every candidate agrees, and the
    candidates (more than one: the learner picks)."""
    word, options = candidates(line, drivers)
    if not options:
        return line, []
    common = options[0]
    for o in options[1:]:
        while not o.lower().startswith(common.lower()):
            common = common[:-1]
    if len(common) < len(word):
        return line, options
    head = line[: len(line) - len(word)] if word else line
    done = common + (" " if len(options) == 1 and not common.endswith("=") else "")
    return head + done, options if len(options) > 1 else []
