"""Attacks as the model sees them: a record naming the workload it rides on, the programs its
actors run, and the breach sets its author declares. Attacks come from plugins; nothing here
imports the plugin layer. An attack never reports its own success: the oracle reads the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

from hvlab.model.core.protections import known_protections


@dataclass(frozen=True)
class AttackActor:
    """One actor an attack adds: its name, the partition it acts as, and its program."""

    name: str
    partition: str
    program: Callable


@dataclass(frozen=True)
class Attack:
    """An attack plugin's record.

    `breach_sets` are the minimal sets of protection ids whose switching-off lets the attack
    through; an empty tuple means it never gets through, and `(frozenset(),)` means it always
    does (an honest limit of the design)."""

    name: str
    summary: str
    workload: str
    breach_sets: tuple[frozenset[str], ...]
    actors: Callable[[], list[AttackActor]]
    plugin: str = "built-in"
    drivers: tuple[str, ...] = ()  # drivers it may install; their site hooks reach this plugin
    tags: tuple[str, ...] = field(default=())

    def predicts_breach(self, off: frozenset[str]) -> bool:
        return any(s <= off for s in self.breach_sets)


class AttackError(ValueError):
    """A malformed attack record; the message names the attack and what to fix."""


def check(attack: Attack, extra_protections: tuple[str, ...] = ()) -> None:
    valid = known_protections(extra_protections)
    for s in attack.breach_sets:
        for pid in sorted(s):
            if pid not in valid:
                raise AttackError(
                    f"attack '{attack.name}' ({attack.plugin}) declares unknown protection "
                    f"'{pid}' in its breach sets (valid: {', '.join(valid)})"
                )
    for a, b in combinations(attack.breach_sets, 2):
        if a <= b or b <= a:
            raise AttackError(
                f"attack '{attack.name}' ({attack.plugin}) declares breach sets that are not "
                f"minimal: {sorted(a)} and {sorted(b)}"
            )


def minimal_sets(breached: list[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """The minimal members of a family of sets, in a stable order."""
    out = [s for s in breached if not any(t < s for t in breached)]
    return tuple(sorted(set(out), key=lambda s: (len(s), sorted(s))))
