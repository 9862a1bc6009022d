"""No lesson gives a prediction away: before the learner commits, what the step shows — its
title and narration — names neither the right choice nor the words that set it apart from the
wrong ones."""

from __future__ import annotations

import re

import pytest

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.runner import known_ids
from hvlab.model.core.protections import known_protections
from hvlab.plugins import load_catalogue

STOP = {
    "the", "and", "with", "from", "that", "this", "into", "only", "what", "does", "when",
    "its", "their", "them", "they", "have", "been", "than", "then", "there", "here", "each",
    "every", "other", "some", "more", "most", "also", "just", "both", "same", "which", "while",
}  # fmt: skip


def stem(word: str) -> str:
    """`refuses`, `refused`, `refuse` → `refus`: a crude stem, the same on both sides."""
    for group in (("ing", "ed"), ("es",), ("s",), ("e",)):
        for suffix in group:
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
    return word


def words(text: str) -> set[str]:
    found = set()
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text.lower()):
        found.add(token)
        found.update(part for part in re.split(r"[_-]", token) if part)
    return {stem(w) for w in found if len(w) >= 4 and w not in STOP}


def telling(predict) -> set[str]:
    """The words of the right choice that no wrong choice and not the prompt has."""
    wrong = set().union(*(words(c) for i, c in enumerate(predict.choices) if i != predict.answer))
    return words(predict.choices[predict.answer]) - wrong - words(predict.prompt)


def steps_with_predictions():
    cat = load_catalogue([], echo=False)
    lessons, errors = load_lessons([bundled_dir()], known_ids(cat))
    assert not errors, errors
    for lesson in lessons:
        for n, step in enumerate(lesson.steps, 1):
            if step.predict is not None:
                yield pytest.param(step, id=f"{lesson.id}:{n}")


@pytest.mark.parametrize("step", list(steps_with_predictions()))
def test_the_narration_does_not_give_the_answer_away(step):
    shown = f"{step.title or ''}\n{step.narration}"
    for name in known_protections():  # naming the protection that is on is the context
        shown = shown.replace(name, "")
    right = step.predict.choices[step.predict.answer]
    assert right.lower() not in shown.lower(), f"states the answer: {right!r}"
    given = sorted(words(shown) & telling(step.predict))
    assert not given, f"says {given} before the prediction (the answer: {right!r})"


@pytest.mark.parametrize("step", list(steps_with_predictions()))
def test_the_goal_line_does_not_give_the_answer_away(step):
    """The goal line is on screen before the commit too: until then it says what to do, not
    what comes of it ("blocked by X" answers "what does the VID do?")."""
    if step.goal is None:
        return
    shown = step.goal.describe(reveal=False)
    for name in known_protections():
        shown = shown.replace(name, "")
    given = sorted(words(shown) & telling(step.predict))
    assert not given, f"the goal line says {given} ({shown!r})"
    assert "blocked" not in shown and "breach" not in shown


def test_the_telling_words_are_found():
    """The check itself: a narration that says the answer fails."""
    from hvlab.lessons.schema import Predict

    p = Predict(
        "What does the hypervisor answer?", ("HV_STATUS_SUCCESS", "HV_STATUS_ACCESS_DENIED"), 1
    )
    assert words("The call is denied.") & telling(p)
    assert words("The hypervisor denies access to the page.") & telling(p)
    assert not words("Step on and watch what the hypervisor answers.") & telling(p)
