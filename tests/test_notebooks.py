"""Every notebook follows the course skeleton, is committed clean, and matches its master."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import REPO
from course_utils.build.assign import strip_solution_markers
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


def test_notebooks_are_in_sync_with_their_masters():
    done = subprocess.run([sys.executable, "-m", "course_utils.build", "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_solutions_keep_code_and_lose_markers():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\ny = 3  # SOLUTION"
    assert strip_solution_markers(source) == "def f(x):\n    return 2 * x\ny = 3"


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


def test_setup_cell_before_setup_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "course_utils", None)  # as if not installed in this kernel
    with pytest.raises(ImportError, match=r"bash scripts/lab\.sh"):
        exec(setup_source(LESSONS[0], "student"), {})


def test_solutions_checks_are_strict():
    assert "strict=True" in setup_source(LESSONS[0], "solutions")
    assert "strict=True" not in setup_source(LESSONS[0], "student")


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_kernel_is_installed(lesson):
    """scripts/setup.sh registers each lesson's kernel where nbmake and the grader look."""
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
    import json
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("course-openvino")
    python = spec.argv[0]
    done = subprocess.run([python, "-c", "import json, transformers, optimum.intel, course_utils; "
                           "print(json.dumps(transformers.__version__))"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]
    assert json.loads(done.stdout).startswith("5.5"), "optimum-intel 2.2.0 needs transformers<5.6"
