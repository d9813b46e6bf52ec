"""Every lesson, end to end, through the grader (the slow part of the suite: ``-m notebook``).

- Each solutions notebook is graded as a submission would be (the cells tagged ``otter_ignore``
  skipped): it scores full marks, public and hidden tests. ``scripts/test.sh`` has already run it,
  and every student notebook, end to end under ``pytest --nbmake`` (every cell, demonstrations
  too; a solutions notebook's checks raise when they fail).
- One command grades a folder into a CSV: each blank student notebook (0 points, and no cell
  outside an answer cell raises, so every exercise works in an unsolved notebook), one wrong
  answer, and broken submissions; each row is asserted.

``COURSE_TEST_LESSONS=04`` (or ``04,06``) limits both to some lessons (``scripts/test.sh --lesson``).
"""

import copy
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.exercises import lesson_names
from course_utils.grade import grade_notebook

pytestmark = pytest.mark.notebook
ROOT = Path(__file__).resolve().parent.parent
WANTED = [w.strip() for w in os.environ.get("COURSE_TEST_LESSONS", "").split(",") if w.strip()]
LESSONS = [lesson for lesson in lesson_names() if not WANTED or any(lesson.startswith(w) for w in WANTED)]
FIRST = "01_pipeline_basics"  # the broken submissions are made from it
SOLUTIONS_TIMEOUT = 900  # seconds; the budgets (CONTRIBUTING.md) are far below


def test_the_selection_names_lessons():
    assert LESSONS, f"COURSE_TEST_LESSONS={os.environ.get('COURSE_TEST_LESSONS')!r} matches no lesson"


@pytest.mark.parametrize("lesson", LESSONS)
def test_solutions_score_full_marks(lesson, notebook_seconds):
    path = ROOT / "notebooks" / "solutions" / f"{lesson}.ipynb"
    result = grade_notebook(path, timeout=SOLUTIONS_TIMEOUT, cell_timeout=SOLUTIONS_TIMEOUT)
    notebook_seconds[f"solutions/{lesson} (graded)"] = result.seconds
    assert result.status == "ok", result.report()
    assert result.errors == [], "\n".join(e.describe() for e in result.errors)
    assert result.possible >= 4 and result.total == result.possible, result.report()


# ---------------------------------------------------------------- one folder, one command, one CSV
def _cells(lesson, kind):
    folder = ROOT / "notebooks" / ("solutions" if kind == "solutions" else "")
    return json.loads((folder / f"{lesson}.ipynb").read_text())


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code(text):
    return {"cell_type": "code", "id": f"added-{abs(hash(text)) % 10**8}", "metadata": {},
            "execution_count": None, "outputs": [], "source": text}


def _answers(nb) -> list[tuple[int, str]]:
    """(index, question) of each answer cell: the question is the next check cell's."""
    found = []
    for index, cell in enumerate(nb["cells"]):
        if set(cell["metadata"].get("tags", [])) & {"otter_answer_cell", "otter_assign_solution_cell"}:
            checks = (re.fullmatch(r'grader\.check\("(\w+)"\)', _source(c).strip())
                      for c in nb["cells"][index + 1:])
            found.append((index, next(m.group(1) for m in checks if m)))
    return found


def broken_submissions(folder: Path) -> dict[str, tuple]:
    """Lesson 01 submissions that must not stop a batch nor score what they should not, made from
    its notebooks whatever their exercises: file name -> (expected scores or None, status start)."""
    student, solutions = _cells(FIRST, "student"), _cells(FIRST, "solutions")
    answers = _answers(solutions)
    questions = sorted({q for _, q in answers})
    first, middle, last = answers[0][1], answers[len(answers) // 2][1], answers[-1][1]
    full = dict.fromkeys(questions, 1.0)
    # One submission, several faults: an answer cell that never ends (stopped at --cell-timeout,
    # the rest still runs), the last answer left blank, a check cell deleted (its question is
    # graded anyway), a printed score and a replaced grader (both ignored).
    faults = copy.deepcopy(solutions)
    for index, question in answers:
        if question == last:
            faults["cells"][index] = student["cells"][index]
    index = next(i for i, q in answers if q == first)
    # (it sleeps rather than spins: the same endless cell for the grader, no core burnt meanwhile)
    faults["cells"][index]["source"] = ("import time\nwhile True:\n    time.sleep(0.05)\n"
                                        + _source(faults["cells"][index]))
    faults["cells"] = [c for c in faults["cells"] if _source(c) != f'grader.check("{middle}")']
    faults["cells"] += [_code(f'print("score: {len(questions)}/{len(questions)}")'),
                        _code("grader = None  # no checks for me")]
    dies = copy.deepcopy(student)
    dies["cells"].insert(8, _code("import os\nos._exit(1)"))
    unknown = copy.deepcopy(student)
    unknown["metadata"].pop("otter")
    made = {
        "01_faults.ipynb": (faults, {**full, first: 0.0, last: 0.0}, "ok"),
        "01_kernel_dies.ipynb": (dies, dict.fromkeys(questions, 0.0), "the kernel died in cell 8"),
        "homework.ipynb": (unknown, None, "unknown lesson"),
    }
    for name, (nb, *_rest) in made.items():
        (folder / name).write_text(json.dumps(nb))
    (folder / "01_not_json.ipynb").write_text("{this is not a notebook")
    expected = {name: tuple(rest) for name, (_nb, *rest) in made.items()}
    expected["01_not_json.ipynb"] = (None, "not a notebook")
    return expected, middle


def test_blank_notebooks_and_broken_submissions_graded_into_one_csv(tmp_path, notebook_seconds):
    folder = tmp_path / "submissions"
    (folder / "class").mkdir(parents=True)
    for lesson in LESSONS:
        (folder / "class" / f"{lesson}.ipynb").write_text(json.dumps(_cells(lesson, "student")))
    expected, middle = broken_submissions(folder) if FIRST in LESSONS else ({}, None)
    done = subprocess.run([sys.executable, "-m", "course_utils.grade", str(folder), "--csv",
                           str(tmp_path / "grades.csv"), "--quiet", "--cell-timeout", "40"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {Path(row["file"]).name: row for row in csv.DictReader((tmp_path / "grades.csv").open())}
    assert len(rows) == len(LESSONS) + len(expected), sorted(rows)
    for lesson in LESSONS:
        row = rows[f"{lesson}.ipynb"]
        notebook_seconds[f"{lesson} (blank, graded)"] = float(row["seconds"])
        assert (row["lesson"], row["status"], row["total"]) == (lesson, "ok", "0"), row
        assert float(row["possible"]) >= 4, row
        raised = [note for note in row["notes"].split("; ")
                  if note.startswith("cell ") and " raised " in note]
        assert raised == [], f"{lesson}: cells outside answer cells fail in a blank notebook: {raised}"
    for name, (scores, status) in expected.items():
        row = rows[name]
        assert row["status"].startswith(status), (name, row["status"])
        if scores is not None:
            assert {q: float(row[q]) for q in scores} == scores, (name, row)
            assert float(row["total"]) == sum(scores.values()), (name, row)
        else:
            assert row["total"] == "", (name, row)
    if expected:
        notes = rows["01_faults.ipynb"]["notes"]
        assert f"check cell deleted or edited for {middle}" in notes, notes
        assert "raised CellTimeout: stopped after 40 s" in notes, notes
