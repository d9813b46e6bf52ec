"""The grader (``course_utils.grade``) on a made-up two-question lesson: tiny notebooks, a few
seconds per kernel. What it must get right: scores only from its own runs of the tests, and every
bad submission a row with a clear status. Real lessons are graded in ``test_lessons.py``."""

import csv
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.grade import (
    LessonTests,
    UnknownLesson,
    find_submissions,
    grade_many,
    grade_notebook,
    lesson_of,
    write_csv,
)
from course_utils.grade.batch import question_columns

ROOT = Path(__file__).resolve().parent.parent
LESSON = "99_made_up"
TESTS = {
    "double": '''
        @test_case(points=None, hidden=False)
        def test_double_two(double):
            assert double(2) == 4, "double(2) should be 4"

        @test_case(points=None, hidden=True)
        def test_double_negative(double):
            assert double(-3) == -6, (
                "double(-3) should be -6: multiply by two, and this message is long on purpose so "
                "that a report that cuts messages at 160 characters would lose its last words: "
                "THE END")
        ''',
    "greet": '''
        @test_case(points=None, hidden=False)
        def test_greeting(greeting):
            assert greeting == "hello", "greeting should be the string 'hello'"
        ''',
}
RIGHT = ["def double(x):\n    return 2 * x", "greeting = 'hello'"]


@pytest.fixture(scope="session")
def checks(tmp_path_factory):
    """A checks folder holding the made-up lesson, laid out as the build writes real ones."""
    root = tmp_path_factory.mktemp("checks")
    for part in ("student", "autograder"):
        (root / LESSON / part).mkdir(parents=True)
        for name, body in TESTS.items():
            text = (f"from otter.test_files import test_case\n\nOK_FORMAT = False\n\nname = {name!r}\n"
                    f"points = 1\n\n{textwrap.dedent(body)}")
            (root / LESSON / part / f"{name}.py").write_text(text)
    return root


def notebook(folder: Path, name: str, *sources: str, tags: dict | None = None) -> Path:
    cells = [nbformat.v4.new_code_cell(src) for src in sources]
    for index, cell_tags in (tags or {}).items():
        cells[index].metadata["tags"] = cell_tags
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"otter": {"assignment_name": LESSON}})
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def grade(path, checks, **kwargs):
    return grade_notebook(path, tests=LessonTests.load(LESSON, checks), **kwargs)


# ---------------------------------------------------------------- without a kernel
def test_lesson_of_reads_metadata_then_the_file_name(tmp_path):
    known = ["01_pipeline_basics", "02_generation_parameters"]
    meta = {"metadata": {"otter": {"assignment_name": "02_generation_parameters"}}}
    assert lesson_of(tmp_path / "x.ipynb", meta, known) == "02_generation_parameters"
    assert lesson_of(tmp_path / "alice_01_pipeline_basics.ipynb", {}, known) == "01_pipeline_basics"
    assert lesson_of(tmp_path / "01_mine.ipynb", None, known) == "01_pipeline_basics"
    with pytest.raises(UnknownLesson, match="rename it to NN_name.ipynb or pass --lesson"):
        lesson_of(tmp_path / "homework.ipynb", {}, known)


def test_find_submissions_walks_folders_and_skips_checkpoints(tmp_path):
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "a" / "one.ipynb").write_text("{}")
    (tmp_path / "a" / ".ipynb_checkpoints" / "one-checkpoint.ipynb").write_text("{}")
    (tmp_path / "a" / "notes.txt").write_text("not graded")
    (tmp_path / "two.ipynb").write_text("{}")
    found = find_submissions([tmp_path / "a", tmp_path / "two.ipynb", tmp_path / "a" / "one.ipynb"])
    assert found == [tmp_path / "a" / "one.ipynb", tmp_path / "two.ipynb"]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        find_submissions([tmp_path / "missing"])


def test_not_a_notebook_gets_a_status(tmp_path, checks):
    bad = tmp_path / "broken.ipynb"
    bad.write_text('{"cells": [')
    result = grade(bad, checks)
    assert result.status.startswith("not a notebook") and "saved from Jupyter" in result.status
    assert result.questions == [] and result.total == 0


def test_the_lesson_tests_are_read_once(checks):
    tests = LessonTests.load(LESSON, checks)
    assert tests.questions == ["double", "greet"] and tests.points == {"double": 1, "greet": 1}
    path = checks / LESSON / "student" / "greet.py"
    original = path.read_text()
    path.write_text(original + "\n# edited\n")
    (checks / LESSON / "student" / "extra.py").write_text("")
    try:
        assert tests.changed_on_disk() == ["student/extra.py", "student/greet.py"]
    finally:
        tests.restore(tests.changed_on_disk())
    assert path.read_text() == original and tests.changed_on_disk() == []


def test_csv_columns_keep_lessons_apart():
    from course_utils.exercises import QuestionResult
    from course_utils.grade import SubmissionResult

    a = SubmissionResult("a.ipynb", "01_x", [QuestionResult("same", 1), QuestionResult("q1", 1)])
    b = SubmissionResult("b.ipynb", "02_y", [QuestionResult("same", 1)])
    assert question_columns([a, b]) == [("01_x", "q1"), ("01_x", "01_x:same"), ("02_y", "02_y:same")]


# ---------------------------------------------------------------- one submission, one kernel
def test_scores_come_from_the_tests_not_from_the_notebook(tmp_path, checks):
    """A wrong answer loses its point even if the notebook prints a score and replaces grader."""
    path = notebook(tmp_path, "cheat", "def double(x):\n    return x + 2",  # right for 2 only
                    "greeting = 'hello'", "print('score: 2/2')",
                    "class grader:\n    check = staticmethod(lambda *a: print('✅ all pass'))")
    result = grade(path, checks)
    assert result.status == "ok" and result.scores() == {"double": 0, "greet": 1}
    report = result.report()
    assert "(hidden) double(-3) should be -6" in report and report.count("THE END") == 1
    assert report.splitlines()[-1] == "score: 1/2"


def test_solutions_mode_runs_tagged_cells_and_reports_errors(tmp_path, checks):
    path = notebook(tmp_path, "tagged", *RIGHT, "raise RuntimeError('demo broke')",
                    tags={2: ["otter_ignore"]})
    fast = grade(path, checks)
    assert fast.total == 2 and fast.errors == []
    full = grade(path, checks, run_all=True)
    assert full.total == 2 and [(e.index, e.name, e.answer_cell) for e in full.errors] == [
        (2, "RuntimeError", False)]
    assert any("demo broke" in note for note in full.notes)


# ---------------------------------------------------------------- many submissions at once
def bad_submissions(folder: Path, checks: Path) -> dict[str, Path]:
    """One submission of each kind that must not stop a batch nor score what it should not."""
    test_file = checks / LESSON / "student" / "greet.py"
    return {
        "right": notebook(folder, "right", *RIGHT, "print('done')"),
        "endless loop in one answer": notebook(
            folder, "loop", "def double(x):\n    while True:\n        pass", "greeting = 'hello'"),
        "kernel dies": notebook(folder, "dies", *RIGHT, "import os\nos._exit(1)"),
        "edits the tests it can see": notebook(
            folder, "edits", "def double(x):\n    return 0", "greeting = 'bye'",
            f"from pathlib import Path\np = Path({str(test_file)!r})\n"
            "p.write_text(p.read_text().replace('assert', 'assert True or'))\n"
            f"p2 = Path({str(test_file).replace('student', 'autograder')!r})\n"
            "p2.write_text(p2.read_text().replace('assert', 'assert True or'))"),
        "exits while graded": notebook(folder, "exits", "def double(x):\n    raise SystemExit(0)",
                                       "greeting = 'hello'"),
        "ignores interrupts": notebook(
            folder, "stuck", *RIGHT,
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
    }


def test_a_batch_of_bad_submissions(tmp_path, checks):
    subs = bad_submissions(tmp_path, checks)
    start = time.monotonic()
    results = dict(zip(subs, grade_many(list(subs.values()), LESSON, jobs=2, checks_dir=checks,
                                        timeout=12, cell_timeout=4)))
    assert time.monotonic() - start < 120, "the timeouts did not bound the batch"
    got = {kind: (r.scores(), r.status.split(":")[0]) for kind, r in results.items()}
    assert got["right"] == ({"double": 1, "greet": 1}, "ok")
    # an endless loop is stopped and costs its own question only
    assert got["endless loop in one answer"] == ({"double": 0, "greet": 1}, "ok")
    assert "stopped: the check took too long" in results["endless loop in one answer"].report()
    assert got["kernel dies"][1] == "the kernel died in cell 2 (`import os`)"
    assert results["kernel dies"].total == 0
    # edited test files: graded with the originals, reported, restored
    assert got["edits the tests it can see"][0] == {"double": 0, "greet": 0}
    assert "edited the course's test files" in results["edits the tests it can see"].status
    assert all(not r.tampered for kind, r in results.items() if kind != "edits the tests it can see")
    assert LessonTests.load(LESSON, checks).files == {
        f"{part}/{q}.py": (checks / LESSON / part / f"{q}.py").read_text()
        for part in ("student", "autograder") for q in ("double", "greet")}
    assert "assert True or" not in (checks / LESSON / "autograder" / "greet.py").read_text()
    assert got["exits while graded"][0] == {"double": 0, "greet": 1}
    assert "SystemExit" in results["exits while graded"].report()
    # a cell that ignores the interrupt is stopped by the submission's timeout
    assert got["ignores interrupts"][1] == "timed out"
    assert results["ignores interrupts"].seconds < 25

    write_csv(list(results.values()), tmp_path / "grades.csv")
    rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert [row["file"] for row in rows] == [str(p) for p in subs.values()]
    assert (rows[0]["double"], rows[0]["greet"], rows[0]["total"], rows[0]["possible"],
            rows[0]["status"]) == ("1", "1", "2", "2", "ok")


# ---------------------------------------------------------------- the command line
def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "course_utils.grade", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_cli_usage_errors_exit_2(tmp_path):
    done = run_cli(tmp_path / "none.ipynb")
    assert done.returncode == 2 and "no such file or folder" in done.stderr
    assert "Traceback" not in done.stderr
    assert run_cli(tmp_path).returncode == 2  # an empty folder: nothing to grade
    done = run_cli(tmp_path, "--lesson", "99_nothing")
    assert done.returncode == 2 and "unknown lesson" in done.stderr


def test_cli_rows_for_submissions_it_cannot_run(tmp_path):
    """Exit 0 and a row each: grading ran, the submissions are the problem."""
    (tmp_path / "01_pipeline_basics.ipynb").write_text("this is not json")
    student = json.loads((ROOT / "notebooks" / "01_pipeline_basics.ipynb").read_text())
    student["metadata"].pop("otter")
    (tmp_path / "homework.ipynb").write_text(json.dumps(student))
    done = run_cli(tmp_path, "--csv", tmp_path / "grades.csv", "--quiet")
    assert done.returncode == 0, done.stderr
    rows = {Path(row["file"]).name: row for row in csv.DictReader((tmp_path / "grades.csv").open())}
    assert rows["01_pipeline_basics.ipynb"]["status"].startswith("not a notebook")
    assert rows["01_pipeline_basics.ipynb"]["lesson"] == "01_pipeline_basics"
    assert "pass --lesson" in rows["homework.ipynb"]["status"]
    assert rows["homework.ipynb"]["total"] == ""
    assert "graded 2 submission(s)" in done.stdout and "2 with a problem" in done.stdout


def test_parallel_kernels_share_the_cores(monkeypatch):
    import os

    from course_utils.grade.batch import _cores_shared_by

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # set by the caller: kept
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    with _cores_shared_by(4):
        assert os.environ["OMP_NUM_THREADS"] == "2" and os.environ["MKL_NUM_THREADS"] == "3"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "3"
