"""`hvlab check`: each lesson's reference solution must reach every goal, its known-bad moves
must miss one, and every attack must match its declared contract. What a teacher or CI runs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from hvlab.lessons.course import load_lessons
from hvlab.lessons.runner import known_ids, play
from hvlab.lessons.schema import Lesson
from hvlab.plugins import Catalogue
from hvlab.shared_runs import sharing_runs
from hvlab.userfiles import printable


@dataclass(frozen=True)
class Result:
    group: str  # "lessons", "contracts" or "files"
    name: str
    passed: bool
    message: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "group": self.group,
            "name": self.name,
            "passed": self.passed,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


def check_lesson(lesson: Lesson, cat: Catalogue) -> Result:
    import time

    started = time.perf_counter()
    if lesson.known_bad is None:
        return Result("lessons", lesson.id, False, f"{lesson.path}: no [known_bad] moves to check")
    ok, why = play(lesson, cat)
    if not ok:
        return Result("lessons", lesson.id, False, f"reference solution fails: {why}")
    bad_ok, _ = play(lesson, cat, lesson.known_bad)
    if bad_ok:
        step = lesson.known_bad[0] + 1
        return Result("lessons", lesson.id, False, f"known-bad moves reach the goal of step {step}")
    return Result("lessons", lesson.id, True, seconds=time.perf_counter() - started)


def check_contracts(cat: Catalogue, jobs: int = 2) -> list[Result]:
    from hvlab.matrix import contract_text, matrix
    from hvlab.plugins import site_handler

    rows = matrix(
        list(cat.attacks.values()),
        jobs=jobs,
        site_handler=site_handler(cat),
        defenses=cat.extra_protections,
        canaries=tuple(cat.canaries),
    )
    out = []
    for r in rows:
        message = ""
        if not r.matches:
            message = (
                f"declared {contract_text(r.declared)}, the model found {contract_text(r.found)}: "
                + "; ".join(r.explain())
            )
        out.append(Result("contracts", r.attack, r.matches, message))
    return out


_WORK: dict = {}  # what a forked checker reads: set before the pool forks


def _check_one(i: int) -> Result:
    with sharing_runs():  # a forked checker replays lessons only
        return check_lesson(_WORK["lessons"][i], _WORK["cat"])


def run_check(
    paths: list[Path], cat: Catalogue, contracts: bool = True, jobs: int = 2
) -> tuple[list[Result], list[str]]:
    """Replay the lessons (over `jobs` forked processes when there are several) and check
    the contracts."""
    import multiprocessing
    import os

    from hvlab.lessons.schema import bundled_dir

    shipped, shipped_errors = load_lessons([bundled_dir()], known_ids(cat))
    if [Path(p).resolve() for p in paths] == [bundled_dir().resolve()]:
        lessons, errors = shipped, shipped_errors  # the course itself: read it once
    else:
        lessons, errors = load_lessons(paths, known_ids(cat), {x.id for x in shipped})
    jobs = min(jobs, os.cpu_count() or 1, len(lessons))
    if jobs > 1:
        _WORK.update(lessons=lessons, cat=cat)
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_check_one, range(len(lessons)), chunksize=1)
    else:
        with sharing_runs():
            results = [check_lesson(lesson, cat) for lesson in lessons]
    if contracts:
        results += check_contracts(cat)
    return results, errors


XML_INVALID = re.compile("[\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 cannot hold shown as an escape instead (controls,
    lone surrogates from undecodable file names, U+FFFE/U+FFFF), so the report always parses."""
    return XML_INVALID.sub(lambda m: f"\\u{ord(m.group()):04x}", printable(text, one_line=True))


def junit(results: list[Result], errors: list[str]) -> bytes:
    suite = ET.Element(
        "testsuite",
        name="hvlab check",
        tests=str(len(results) + len(errors)),
        failures=str(sum(not r.passed for r in results)),
        errors=str(len(errors)),
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"hvlab.{r.group}",
            name=xml_text(r.name),
            time=f"{r.seconds:.3f}",
        )
        if not r.passed:
            message = xml_text(r.message)
            ET.SubElement(case, "failure", message=message).text = message
    for line in map(xml_text, errors):
        case = ET.SubElement(suite, "testcase", classname="hvlab.files", name=line.split(":")[0])
        ET.SubElement(case, "error", message=line).text = line
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
