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
class Breach:
    """A way through that needs protections *on* as well as off: breached when every protection
    of `off` is off and every one of `on` is on (an attack that a protection makes possible)."""

    off: frozenset[str] = frozenset()
    on: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("off", "on"):
            object.__setattr__(self, name, _id_set(getattr(self, name), f"Breach.{name}"))

    def holds(self, off: frozenset[str]) -> bool:
        return self.off <= off and not (self.on & off)


NEVER = "never"  # blocked under every design, by a protection or by the architecture itself
ALWAYS = "always"  # breached under every design: an honest limit of the design

SHAPE = (
    "breach_sets must be 'never', 'always', or a list of sets of protection ids "
    '(and Breach(off=..., on=...) records), like [{"exclusive-guest-memory"}]'
)


def _id_set(value, what: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, (set, frozenset, list, tuple)):
        raise AttackError(f"{what} must be a set of protection ids, not {value!r}")
    if not all(isinstance(x, str) for x in value):
        raise AttackError(
            f"{what} must hold protection ids (strings), not {sorted(map(repr, value))}"
        )
    return frozenset(value)


@dataclass(frozen=True)
class Attack:
    """An attack plugin's record.

    `breach_sets` is its contract, checked against the model under every design: the minimal
    sets of protection ids whose switching-off lets the attack through, each a set (or a
    `Breach` when a protection must also be on); `"never"` (or `()`) when it never gets through,
    `"always"` (or `[set()]`) when it always does (an honest limit of the design). A wrong shape
    is refused when the record is made, in one line."""

    name: str
    summary: str
    workload: str
    breach_sets: tuple
    actors: Callable[[], list[AttackActor]]
    plugin: str = "built-in"
    drivers: tuple[str, ...] = ()  # drivers it may install; their site hooks reach this plugin
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "breach_sets", contract(self.breach_sets, self.name))

    @property
    def conditions(self) -> tuple[Breach, ...]:
        """The contract as Breach records (a plain set is a Breach with nothing needed on)."""
        return tuple(s if isinstance(s, Breach) else Breach(s) for s in self.breach_sets)

    def predicts_breach(self, off: frozenset[str]) -> bool:
        return any(b.holds(frozenset(off)) for b in self.conditions)


def contract(value, attack: str = "?") -> tuple:
    """`breach_sets` as given, normalised: a tuple of frozensets and Breach records."""
    if value == NEVER:
        return ()
    if value == ALWAYS:
        return (frozenset(),)
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise AttackError(f"attack '{attack}': {SHAPE}; got {value!r}")
    out = []
    for item in value:
        if isinstance(item, Breach):
            out.append(item if item.on else item.off)
            continue
        if isinstance(item, str) or not isinstance(item, (set, frozenset, list, tuple)):
            raise AttackError(f"attack '{attack}': {SHAPE}; got {value!r}")
        try:
            out.append(_id_set(item, "a breach set"))
        except AttackError:
            raise AttackError(f"attack '{attack}': {SHAPE}; got {value!r}") from None
    return tuple(out)


class AttackError(ValueError):
    """A malformed attack record; the message names the attack and what to fix."""


def check(attack: Attack, extra_protections: tuple[str, ...] = ()) -> None:
    valid = known_protections(extra_protections)
    for b in attack.conditions:
        for pid in sorted(b.off | b.on):
            if pid not in valid:
                raise AttackError(
                    f"attack '{attack.name}' ({attack.plugin}) declares unknown protection "
                    f"'{pid}' in its breach sets (valid: {', '.join(valid)})"
                )
    plain = [s for s in attack.breach_sets if not isinstance(s, Breach)]
    for a, b in combinations(plain, 2):
        if a <= b or b <= a:
            raise AttackError(
                f"attack '{attack.name}' ({attack.plugin}) declares breach sets that are not "
                f"minimal: {sorted(a)} and {sorted(b)}"
            )


def minimal_sets(breached: list[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """The minimal members of a family of sets, in a stable order."""
    out = [s for s in breached if not any(t < s for t in breached)]
    return tuple(sorted(set(out), key=lambda s: (len(s), sorted(s))))
