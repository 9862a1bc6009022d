"""Lessons: TOML files in lessons/ that walk through one property of the design each.

A lesson is data, never code: narration, an action per step, a predict prompt, hints and a goal
that is a declarative predicate over the run (see `goals`). `load_lessons` reads a folder and
reports each bad file as one line naming the file and, where there is one, the line.
"""

from __future__ import annotations

from hvlab.lessons.course import load_lessons
from hvlab.lessons.schema import (
    SCHEMA_VERSION,
    Action,
    Goal,
    Lesson,
    LessonError,
    Predict,
    Step,
    bundled_dir,
    load_lesson,
)

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "Goal",
    "Lesson",
    "LessonError",
    "Predict",
    "Step",
    "bundled_dir",
    "load_lesson",
    "load_lessons",
]
