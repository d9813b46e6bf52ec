"""``course_utils.build``: every notebook follows the course skeleton and the question rules, is
committed clean, and matches its master; what the build generates; the package's layout."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from course_utils import REPO
from course_utils.build.assign import build_lesson, check_all_text, generated_header, strip_solution_markers
from course_utils.build.questions import bound_names, question_problems
from course_utils.build.skeleton import (
    OWN_ENVIRONMENT,
    install_spec,
    kernelspec,
    setup_source,
    skeleton_problems,
)

ROOT = Path(__file__).resolve().parent.parent
MASTERS = sorted((ROOT / "notebooks" / "masters").glob("*.ipynb"))
LESSONS = [m.stem for m in MASTERS]
NOTEBOOKS = [(lesson, kind, ROOT / "notebooks" / sub / f"{lesson}.ipynb")
             for lesson in LESSONS
             for kind, sub in (("master", "masters"), ("student", ""), ("solutions", "solutions"))]


def test_there_are_lessons():
    assert "01_pipeline_basics" in LESSONS


@pytest.mark.parametrize("lesson, kind, path", NOTEBOOKS, ids=lambda v: getattr(v, "name", str(v)))
def test_skeleton(lesson, kind, path):
    nb = nbformat.read(path, as_version=4)
    assert skeleton_problems(nb, lesson, kind) == []


def test_skeleton_check_catches_what_is_missing():
    lesson = LESSONS[0]
    nb = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if "## Summary" not in c.source]
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    problems = skeleton_problems(nb, lesson, "student")
    assert "missing: ## Summary" in problems
    assert any("carries outputs" in p for p in problems)
    nb.cells = [c for c in nb.cells if "grader.check(" not in c.source]
    assert any("has no check cell" in p for p in skeleton_problems(nb, lesson, "student"))


def test_the_build_refuses_a_placeholder():
    """A learner never reads "runs in about RUNTIME_PLACEHOLDER": the build names the cell."""
    lesson = LESSONS[0]
    nb = nbformat.read(ROOT / "notebooks" / "masters" / f"{lesson}.ipynb", as_version=4)
    assert skeleton_problems(nb, lesson, "master") == []
    nb.cells[1].source += "\n\nThe whole notebook runs in about RUNTIME_PLACEHOLDER."
    problems = skeleton_problems(nb, lesson, "master")
    assert problems == ["cell 1 still holds the placeholder 'RUNTIME_PLACEHOLDER': write the text it "
                        "stands for"], problems


@pytest.mark.parametrize("lesson, kind, path", NOTEBOOKS, ids=lambda v: getattr(v, "name", str(v)))
def test_committed_notebooks_say_their_language(lesson, kind, path):
    """With ``language_info`` committed, JupyterLab does not mark a notebook modified on opening."""
    info = json.loads(path.read_text())["metadata"].get("language_info", {})
    assert info.get("name") == "python" and info.get("file_extension") == ".py", path


def test_further_reading_comes_after_the_summary():
    lesson = LESSONS[0]
    nb = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
    reading = next(c for c in nb.cells if c.source.startswith("## Further reading"))
    nb.cells.remove(reading)
    assert "missing: ## Further reading" in skeleton_problems(nb, lesson, "student")
    nb.cells.insert(1, reading)
    assert any(p.startswith("## Further reading (cell 1) must come after ## Summary")
               for p in skeleton_problems(nb, lesson, "student"))


# ---------------------------------------------------------------- the question rules, on a made-up master
def _master(*cells):
    """A master from (kind, source[, tags]) tuples: 'md', 'code', 'raw'."""
    made = []
    for kind, source, *tags in cells:
        new = {"md": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell,
               "raw": nbformat.v4.new_raw_cell}[kind]
        made.append(new(source))
        if tags:
            made[-1].metadata["tags"] = tags[0]
    return nbformat.v4.new_notebook(cells=made)


def _question(name, heading, answer, tests, before=()):
    return [("raw", f"# BEGIN QUESTION\nname: {name}\npoints: 1"), ("md", heading), *before,
            ("raw", "# BEGIN SOLUTION"), ("code", answer), ("raw", "# END SOLUTION"),
            ("raw", "# BEGIN TESTS"), *[("code", t) for t in tests], ("raw", "# END TESTS"),
            ("raw", "# END QUESTION")]


def test_question_rules_name_the_cell_and_the_fix():
    nb = _master(
        ("code", "# setup\nimport math\nfrom pathlib import Path as P"),                          # 0
        ("code", "measured = 3", ["otter_ignore"]),                                              # 1
        *_question("guess", "#### Predict 🦁: how many?", "guess = 3",                          # 2-10
                   ["def test_guess(guess, measured):\n    assert guess == measured, 'no'"]),
        ("md", "## Exercises"),                                                                  # 11
        *_question("ok", "### Exercise 1 🐢: fine", "def f(x):\n    return x",                # 12-20
                   ["def test_f(f, math, P):\n    assert f(1) == 1, 'f(1) should be 1'"]),
        *_question("bare", "### Exercise 3: no level", "g = 1",                                 # 21-29
                   ["def test_g(g, nowhere):\n    assert g == 1"]),
        *_question("late", "#### Predict 🐢: in the exercises", "h = 2", []),                   # 30-37
    )
    problems = question_problems(nb, exercises_at=11, setup_at=0)
    expected = [
        "question 'guess' (cell 2): cell 3 '#### Predict 🦁: how many?' needs the level 🐢 or 🐕",
        "question 'guess': test `test_guess` (cell 8) takes `measured`, but only cell 1, tagged "
        "otter_ignore (skipped when grading), defines it",
        "question 'bare' (cell 21): cell 22 '### Exercise 3: no level' needs a level",
        "question 'bare': test cell 27, line 2: `assert g == 1` has no message",
        "question 'bare': test `test_g` (cell 27) takes `nowhere`, but no cell before the tests defines it",
        "question 'late' (cell 30): cell 31 '#### Predict 🐢: in the exercises' is a prediction: it "
        "belongs in the lesson",
        "question 'late' (cell 30): no tests",
        "exercises are numbered [1, 3]: number them 1, 2, 3 ... in order",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected), problems
    assert not any("'ok'" in p for p in problems)


def test_question_heading_may_sit_in_the_cell_before_and_tests_must_follow_the_answer():
    nb = _master(("code", "x = 1"), ("md", "## Exercises"),
                 ("md", "Some text.\n\n### Exercise 1 🐕: heading before the question"),
                 ("raw", "# BEGIN QUESTION\nname: q"), ("raw", "# BEGIN TESTS"),
                 ("code", "def test_q(y):\n    assert y, 'y should be set'"), ("raw", "# END TESTS"),
                 ("raw", "# BEGIN SOLUTION"), ("code", "y = 1"), ("raw", "# END SOLUTION"),
                 ("raw", "# END QUESTION"))
    problems = question_problems(nb, exercises_at=1, setup_at=0)
    assert len(problems) == 2, problems
    assert problems[0].startswith("question 'q' (cell 3): its tests (cell 5) come before its answer (cell 8)")
    assert "takes `y`, but no cell before the tests defines it" in problems[1]


def test_untagged_cells_must_not_read_what_only_tagged_cells_define():
    """Grading skips the tagged cells: an untagged cell reading their names would raise there, and an
    answer whose function reads one would lose its points; reads inside functions count for answers."""
    nb = _master(
        ("code", "import math\nshared = 1"),                                                     # 0
        ("code", "measured = 3\ntable = [1]\nshared = 2", ["otter_ignore"]),                      # 1
        ("code", "print(measured, shared)"),                                                    # 2: top level
        ("code", "def later():\n    return table"),                                            # 3: a helper
        ("code", "for measured in range(2):\n    pass\nprint(measured)"),                       # 4: binds it
        ("md", "## Exercises"),                                                                  # 5
        *_question("q", "### Exercise 1 🐢: fine",                                                # 6-14
                   "def f(x):\n    return x + len(table)",
                   ["def test_f(f):\n    assert f(1) == 2, 'f(1) should be 2'"]),
    )
    problems = question_problems(nb, exercises_at=5, setup_at=0)
    first = "cell 2 reads `measured`, which only cells tagged otter_ignore"
    assert any(p.startswith(first) for p in problems), problems
    assert any(p.startswith("cell 9 reads `table`") for p in problems), problems  # the answer cell
    assert len(problems) == 2, problems


def test_bound_names():
    import ast

    source = '''
import os.path, numpy as np
from math import pi as PI
a, (b, *c) = 1, (2, 3)
d: int = 4
e += 1
def f(): global g; g = 1
class K: inner = 1
for i, j in []: pass
with open("x") as fh, open("y") as (h1, h2): pass
if (w := 5): k = 1
try:
    t = 1
except ValueError as err:
    u = 2
[z for z in range(3)]
'''
    assert bound_names(ast.parse(source)) == {
        "os", "np", "PI", "a", "b", "c", "d", "e", "f", "g", "K", "i", "j", "fh", "h1", "h2", "w",
        "k", "t", "err", "u"}


# ---------------------------------------------------------------- what the build writes
@pytest.fixture(scope="module")
def built_lesson():
    with tempfile.TemporaryDirectory(prefix="test-build-") as tmp:
        written, problems = build_lesson(MASTERS[0], Path(tmp))
        yield Path(tmp), written, problems


def test_generated_tests_say_where_they_come_from_and_otter_parses_them(built_lesson):
    from otter.test_files.exception_test import ExceptionTestFile

    _, written, _ = built_lesson
    tests = [p for p in written if p.suffix == ".py"]
    assert tests
    for path in tests:
        assert path.read_text().startswith(generated_header(MASTERS[0].stem)), path
        assert generated_header(MASTERS[0].stem).startswith(
            f"# generated from notebooks/masters/{MASTERS[0].stem}.ipynb by python -m course_utils.build")
        assert ExceptionTestFile.from_file(str(path)).test_cases, path


def test_check_all_says_what_it_runs(built_lesson):
    from course_utils.exercises import read_test_file

    root, written, _ = built_lesson
    hidden = sum(c.hidden for p in written if "autograder" in p.parts for c in read_test_file(p).cases)
    assert hidden > 0
    for sub in ("", "solutions"):
        nb = nbformat.read(root / "notebooks" / sub / MASTERS[0].name, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "rerun all of the autograder tests" not in text
        assert check_all_text(hidden) in text


def test_notebooks_are_in_sync_with_their_masters():
    done = subprocess.run([sys.executable, "-m", "course_utils.build", "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_build_names_an_unknown_lesson():
    done = subprocess.run([sys.executable, "-m", "course_utils.build", "99_nothing", "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "no single master notebook for 99_nothing" in done.stderr


def test_solutions_keep_code_and_lose_markers():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\ny = 3  # SOLUTION"
    assert strip_solution_markers(source) == "def f(x):\n    return 2 * x\ny = 3"


# ---------------------------------------------------------------- the setup cell and the kernels
def test_setup_cell_does_nothing_locally(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran outside Colab"))
    namespace = {}
    exec(setup_source(LESSONS[0], "student"), namespace)
    assert namespace["grader"].lesson == LESSONS[0]


def test_setup_cell_installs_the_helpers_on_colab_but_never_torch(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda args, **k: calls.append(args))
    exec(setup_source(LESSONS[0], "student"), {})
    assert len(calls) == 1 and calls[0][-1] == install_spec()
    assert REPO in install_spec() and "torch" not in " ".join(calls[0])
    assert calls[0][calls[0].index("-c") + 1].endswith(f"{REPO}/main/constraints-colab.txt")


def _pins(path):
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


# What Colab brings and the course leaves alone (its torch, its notebook server and kernel, its
# numerical stack), and the course's own tools for tests and lint.
COLAB_KEEPS = {"torch", "numpy", "pandas", "matplotlib", "tqdm", "jupyterlab", "ipykernel", "nbconvert",
               "pytest", "nbmake", "schemathesis", "hypothesis", "ruff"}


@pytest.mark.parametrize("colab, local", [("constraints-colab.txt", "requirements.txt"),
                                          ("constraints-colab-openvino.txt", "requirements-openvino.txt")])
def test_colab_installs_the_versions_the_course_was_tested_with(colab, local):
    """Every pin of the local environment is Colab's constraint, but for what Colab keeps its own."""
    tested, colab_pins = _pins(local), _pins(colab)
    assert colab_pins == {name: v for name, v in tested.items() if name not in COLAB_KEEPS}, (
        f"{colab} is out of step with {local}")
    assert "torch" not in colab_pins


def test_setup_cell_before_setup_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "course_utils", None)  # as if not installed in this kernel
    with pytest.raises(ImportError, match=r"bash scripts/lab\.sh"):
        exec(setup_source(LESSONS[0], "student"), {})


def test_solutions_checks_are_strict():
    assert "strict=True" in setup_source(LESSONS[0], "solutions")
    assert "strict=True" not in setup_source(LESSONS[0], "student")


def test_a_learners_import_loads_neither_the_server_nor_the_grader():
    """What a notebook's setup cell and a first check import: no server, grader, build, otter."""
    code = (f"import sys\nexec({setup_source(LESSONS[0], 'student')!r})\n"
            "grader.check(grader.questions()[0])\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'otter' or "
            "m.startswith(('course_utils.server', 'course_utils.grade', 'course_utils.build', "
            "'course_utils.bench')))))")
    done = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_kernel_is_installed(lesson):
    """scripts/setup.sh registers each lesson's kernel where the grader looks."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = kernelspec(lesson)["name"]
    found = KernelSpecManager().find_kernel_specs()
    assert name in found, f"kernel {name!r} is not installed: run `bash scripts/setup.sh`"


def test_lesson_06_runs_in_its_own_environment():
    assert "06_openvino" in OWN_ENVIRONMENT
    nb = nbformat.read(ROOT / "notebooks" / "06_openvino.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "course-openvino"
    assert "course-utils[openvino] @ git+" in setup_source("06_openvino", "student")
    nb.metadata["kernelspec"] = kernelspec(LESSONS[0])
    assert any("declares kernel 'python3'" in p for p in skeleton_problems(nb, "06_openvino", "student"))


def test_the_openvino_kernel_has_optimum_intel_and_the_course_helpers():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("course-openvino")
    python = spec.argv[0]
    done = subprocess.run([python, "-c", "import json, transformers, optimum.intel, course_utils; "
                           "print(json.dumps(transformers.__version__))"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]
    assert json.loads(done.stdout).startswith("5.5"), "optimum-intel 2.2.0 needs transformers<5.6"


def test_build_takes_a_lesson_number():
    done = subprocess.run([sys.executable, "-m", "course_utils.build", "03", "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    ambiguous = subprocess.run([sys.executable, "-m", "course_utils.build", "0", "--check"],
                               capture_output=True, text=True, cwd=ROOT)
    assert ambiguous.returncode == 2 and "give a lesson's name or number" in ambiguous.stderr
