"""The lesson beside the lab: narration, the predict prompt, hints shown so far, the goal."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from hvlab.lessons.progress import LessonProgress
from hvlab.lessons.runner import LessonRun, evidence_step

HINT_NAMES = ("nudge", "pointer", "walkthrough", "reveal")
SIMPLIFICATIONS_DOC = "docs/model.md (Simplifications)"


def goal_line(run: LessonRun, pending: bool = False) -> Text:
    """First under the title, so it is on screen whatever the narration's length. `pending`:
    the step's prediction is not committed yet, so the goal cannot be said reached (an action
    that jumps to the event may already have met it: saying so would give the answer away)."""
    g = Text()
    goal = run.step.goal
    if goal is None and run.last_step:
        if pending:
            g.append("Last step: commit your prediction (p) to finish the lesson.", style="dim")
        else:
            g.append("Lesson done ✓", style="bold green")
            g.append("  (o for the lessons)", style="green")
        return g
    if goal is None:
        g.append("No goal on this step: read, step around, then ] for the next step.", style="dim")
        return g
    g.append("Goal: ", style="bold")
    g.append(goal.describe(reveal=not pending))
    if pending:
        g.append("  … commit your prediction first (p)", style="dim")
        return g
    met = run.goal_reached()
    g.append("  ✓ reached" if met else "  … not yet", style="bold green" if met else "dim")
    if met:
        nxt = "] next step" if not run.last_step else "lesson done — o for the lessons"
        g.append(f"  ({nxt})", style="green")
    return g


def lesson_view(run: LessonRun, entry: LessonProgress, number: str) -> Group:
    # rich.markdown brings markdown-it and Pygments' lexer table (~60 ms): only for lessons.
    from rich.markdown import Markdown

    lesson, step, i = run.lesson, run.step, run.index
    head = Text()
    head.append(f"Lesson {number} · {lesson.title}\n", style="bold")
    head.append(f"step {i + 1} of {len(lesson.steps)}", style="bold reverse")
    if step.title:
        head.append(f"  {step.title}", style="bold")
    pending = step.predict is not None and i not in entry.predictions
    parts: list = [head, goal_line(run, pending)]
    narration = Markdown(step.narration.strip())
    if step.predict:
        p = Text()
        chosen = entry.predictions.get(i)
        # the answer shows once the run has shown it: the goal reached (or, on a step without
        # one, the learner at the end of the run)
        # (a step with no run of its own — a "why" or "beyond" question — shows it on commit)
        seen = chosen is not None and (
            run.goal_reached()
            if step.goal is not None
            else step.action is None or run.session.cursor >= run.session.lab.last
        )
        p.append("Predict: ", style="bold magenta")
        p.append(step.predict.prompt + "\n")
        choices = Text()
        for n, choice in enumerate(step.predict.choices):
            mark = "●" if chosen == n else "○"
            style = "green" if seen and n == step.predict.answer else ""
            choices.append(f"  {mark} {n + 1}) {choice}\n", style=style)
        if not seen:  # before the answer, the choices; after it, the verdict comes first
            p.append_text(choices)
        if chosen is None:
            p.append("  press p to commit your prediction; stepping waits for it\n", style="italic")
        elif not seen:
            p.append("  committed — now step and see what the model does\n", style="italic")
        else:
            right = chosen == step.predict.answer
            really = step.predict.choices[step.predict.answer]
            p.append(
                "  you predicted it: " if right else "  you predicted otherwise; what happened: ",
                style="green" if right else "yellow",
            )
            p.append(f"{really}\n", style="bold")
            where = evidence_step(step.predict, run.session)
            if where is not None:  # the pointer first: it is short, and the pane may be short
                p.append("  the event that shows it: ", style="bold")
                p.append(f"step {where} ({step.predict.evidence_text()}) — j {where}\n")
            why_not = step.predict.why_not(chosen)
            if why_not:
                p.append("  why not yours: ", style="bold yellow")
                p.append(why_not + "\n")
            p.append_text(choices)
        if seen:  # the verdict leads, where the eye is, then why; the narration was read
            parts.append(p)
            if step.predict.explain:  # why: only once the run has shown what happened
                parts.append(Markdown(step.predict.explain))
            parts.append(narration)
        else:
            parts += [narration, p]
    else:
        parts.append(narration)
    shown = entry.hints.get(i, 0)
    if step.hints:
        h = Text()
        for n in range(min(shown, len(step.hints))):
            h.append(f"hint {n + 1} ({HINT_NAMES[n]}): ", style="bold cyan")
            h.append(step.hints[n] + "\n")
        if shown < len(step.hints):
            h.append(f"h: hint {shown + 1} of {len(step.hints)}\n", style="dim")
        parts.append(h)
    if lesson.simplifies:
        s = Text()
        s.append("The model simplifies here: ", style="bold dim")
        s.append("; ".join(lesson.simplifies), style="dim")
        s.append(f" — {SIMPLIFICATIONS_DOC} says how the real machine does it", style="dim")
        parts.append(s)
    return Group(*parts)


class LessonPane(Static):
    """See `lesson_view`. Keys (on the lab screen): p predict, h hint, ] next step, [ previous."""

    DEFAULT_CSS = "LessonPane { padding: 0 1; }"

    def show(self, run: LessonRun, entry: LessonProgress, number: str) -> None:
        self.update(lesson_view(run, entry, number))
