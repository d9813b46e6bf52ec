"""Grading submitted notebooks (instructor tooling; learners never import it).

``python -m course_utils.grade PATH.ipynb`` executes a submission and grades its exercises with the
lesson's public and hidden tests.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from ..exercises import _lesson_dir, lesson_names

__all__ = ["grade_notebook", "lesson_names", "lesson_of", "score_lines"]


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
