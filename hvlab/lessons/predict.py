"""A lesson step's prediction: its fields, and reading them from the step's `predict` table."""

from __future__ import annotations

from dataclasses import dataclass

from hvlab.lessons.toml_reader import TableReader

PHASES = ("entry", "validate", "dispatch", "complete")  # a hypercall's events, in order


@dataclass(frozen=True)
class Predict:
    prompt: str
    choices: tuple[str, ...]
    answer: int
    explain: str = ""  # why it is so: shown once the run has shown the answer, never before
    # why each wrong choice is wrong, by index ("" for the answer), shown to whoever picked it
    wrong: tuple[str, ...] = ()
    # (kind, name, phase): the event that shows it; a hypercall's is its complete event
    evidence: tuple[str, str | None, str | None] | None = None

    def evidence_text(self) -> str:
        """The evidence as a learner reads it: "hypercall HvCallMapGpaPages complete"."""
        return " ".join(part for part in self.evidence or () if part)

    def why_not(self, chosen: int) -> str:
        return self.wrong[chosen] if chosen != self.answer and chosen < len(self.wrong) else ""


def read_predict(r: TableReader, known: dict | None, check_id) -> Predict:
    """The step's `predict` table, checked; `check_id(reader, what, value, known)` checks an
    id (the evidence's event kind) against the lab's."""
    p = TableReader(r.path, r.text, r.where + "predict: ", r.get("predict", dict), r.anchor)
    p.unknown(("prompt", "choices", "answer", "explain", "wrong", "evidence"))
    choices = p.strings("choices", required=True)
    if len(choices) > 9:
        raise p.fail("at most nine choices: the learner picks one with the keys 1 to 9", "choices")
    if len(choices) < 2:
        raise p.fail("needs at least two choices", "choices")
    answer = p.get("answer", int, required=True)
    if not 0 <= answer < len(choices):
        raise p.fail(
            f"answer {answer} is not the index of a choice (0 to {len(choices) - 1})", "answer"
        )
    explain = p.get("explain", str) or ""  # checked for control characters as it is read
    wrong = p.strings("wrong")
    if wrong and len(wrong) != len(choices):
        raise p.fail(
            f"wrong has {len(wrong)} lines for {len(choices)} choices: one per choice, "
            '"" for the answer',
            "wrong",
        )
    if wrong and wrong[answer].strip():
        raise p.fail(f'wrong[{answer}] is the answer\'s: leave it ""', "wrong")
    evidence = None
    if "evidence" in p.table:
        e = TableReader(p.path, p.text, p.where + "evidence: ", p.get("evidence", dict), p.anchor)
        e.unknown(("kind", "name", "phase"))
        kind = check_id(e, "kinds", e.get("kind", str, required=True), known)
        phase = e.get("phase", str)
        if phase is not None and phase not in PHASES:
            raise e.fail(f"unknown phase '{phase}' (valid: {', '.join(PHASES)})", "phase")
        if phase is None and kind == "hypercall":
            phase = "complete"  # a call's verdict: its status, what it did, in one event
        evidence = (kind, e.get("name", str), phase)
    return Predict(
        p.get("prompt", str, required=True),
        choices,
        answer,
        explain.strip(),
        tuple(w.strip() for w in wrong),
        evidence,
    )
