"""Exercise checks inside notebooks: what a notebook's ``grader.check("name")`` runs.

Each lesson's tests are generated from its master notebook by ``python -m course_utils.build``
into ``course_utils/checks/<lesson>/``:

- ``student/``: the public tests that a check cell runs while the learner works;
- ``autograder/``: public and hidden tests, used by ``python -m course_utils.grade``.

They ship inside the package, so a check cell works the same locally, in CI and on Colab (where
the notebook is opened alone, without the repository beside it).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

CHECKS_DIR = Path(__file__).parent / "checks"


def lesson_names() -> list[str]:
    """The lessons that have generated checks, e.g. ``["01_pipeline_basics"]``."""
    if not CHECKS_DIR.is_dir():
        return []
    return sorted(p.name for p in CHECKS_DIR.iterdir() if (p / "autograder").is_dir())


def _lesson_dir(lesson: str) -> Path:
    folder = CHECKS_DIR / lesson
    if not folder.is_dir():
        known = ", ".join(lesson_names()) or "none"
        raise ValueError(
            f"No checks for lesson {lesson!r} (known: {known}). "
            "If you just edited a master notebook, run `python -m course_utils.build`."
        )
    return folder


class ExerciseChecker:
    """What a notebook's ``grader`` is: ``grader.check("name")`` runs one exercise's public tests.

    A failing check shows what is wrong and why, and does not stop the notebook, so an unsolved
    notebook still runs to the end. With ``strict=True`` (the solutions notebooks) or the
    environment variable ``COURSE_STRICT_CHECKS=1``, a failing check raises, so CI notices.
    """

    def __init__(self, lesson: str, strict: bool = False) -> None:
        import otter

        self.lesson = lesson
        self.strict = strict or os.environ.get("COURSE_STRICT_CHECKS") == "1"
        self._tests_dir = _lesson_dir(lesson) / "student"
        self._notebook = otter.Notebook(tests_dir=str(self._tests_dir))

    def check(self, question: str, global_env: dict | None = None):
        """Run ``question``'s public tests against the notebook's variables (or ``global_env``)."""
        env = global_env if global_env is not None else inspect.currentframe().f_back.f_globals
        result = self._notebook.check(question, global_env=env)
        if self.strict and not result.passed_all:
            raise AssertionError(f"check {question!r} failed:\n{result.summary()}")
        return result

    def check_all(self) -> None:
        """Run every exercise's check and print one line for each, then a count."""
        env = inspect.currentframe().f_back.f_globals
        results = []
        for path in sorted(self._tests_dir.glob("*.py")):
            result = self._notebook.check(path.stem, global_env=env)
            print(f"{'✅' if result.passed_all else '❌'} {path.stem}")
            results.append(result)
        passed = sum(r.passed_all for r in results)
        print(f"{passed}/{len(results)} exercises pass their checks")
        if self.strict and passed < len(results):
            raise AssertionError("some checks failed")


def exercise_checker(lesson: str, strict: bool = False) -> ExerciseChecker:
    """The ``grader`` object a lesson notebook creates in its first cells."""
    return ExerciseChecker(lesson, strict=strict)
