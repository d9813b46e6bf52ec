"""Exercise checks inside notebooks, and grading a submitted notebook, on top of otter-grader.

Each lesson's tests are generated from its master notebook by ``python -m course_utils.assign``
into ``course_utils/checks/<lesson>/``:

- ``student/``: the public tests that a check cell runs while the learner works;
- ``autograder/``: public and hidden tests, used by ``python -m course_utils.grade``.

They ship inside the package, so a check cell works the same locally, in CI and on Colab (where
the notebook is opened alone, without the repository beside it).
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
import zipfile
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
            "If you just edited a master notebook, run `python -m course_utils.assign`."
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


def lesson_of(notebook_path: str | Path) -> str:
    """Which lesson a notebook belongs to: its otter metadata, else its file name."""
    path = Path(notebook_path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable notebook ({err}); "
                         "submit the .ipynb file saved from Jupyter") from None
    name = nb.get("metadata", {}).get("otter", {}).get("assignment_name")
    if name:
        return name
    stem = path.stem.removesuffix("_solutions")
    return stem


def build_autograder_zip(lesson: str, out_dir: Path) -> Path:
    """Pack the lesson's autograder tests into the zip that otter's local runner expects."""
    tests = _lesson_dir(lesson) / "autograder"
    zip_path = out_dir / f"{lesson}-autograder.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for test in sorted(tests.glob("*.py")):
            zf.write(test, f"tests/{test.name}")
        zf.writestr("otter_config.json", json.dumps({"assignment_name": lesson, "lang": "python"}))
    return zip_path


def grade_notebook(notebook_path: str | Path, lesson: str | None = None, quiet: bool = True):
    """Execute a submitted notebook and grade it; returns otter's GradingResults.

    Runs in this Python environment (no Docker), from a temporary copy of the notebook.
    """
    from otter.api import grade_submission

    path = Path(notebook_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"No notebook at {path}. Give the path of a .ipynb file.")
    lesson = lesson or lesson_of(path)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        tmp_path = Path(tmp)
        zip_path = build_autograder_zip(lesson, tmp_path)
        submission = tmp_path / f"{lesson}.ipynb"
        shutil.copy(path, submission)
        return grade_submission(str(submission), str(zip_path), quiet=quiet)


def score_lines(results) -> list[str]:
    """One line per question (``name: score/possible``, and why on failure), then ``score: X/Y``."""
    lines = []
    for name in sorted(results.results):
        res = results.results[name]
        line = f"{name}: {res.score:g}/{res.possible:g}"
        if res.score < res.possible:
            failed = [r for r in res.test_case_results if not r.passed]
            if failed:
                first = failed[0].message.strip().splitlines()
                why = next((ln.strip() for ln in reversed(first) if ln.strip()), "")
                line += f"  ({why[:160]})"
        lines.append(line)
    lines.append(f"score: {results.total:g}/{results.possible:g}")
    return lines
