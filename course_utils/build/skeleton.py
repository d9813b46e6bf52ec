"""The one skeleton every lesson notebook follows, the cells generated from ``REPO``, and the check.

Skeleton, in order: a title cell with the "Open in Colab" badge; "What you'll learn"; the setup cell
(installs the helpers on Colab only, creates the exercise ``grader``); package versions
(``show_versions``); the device (``show_device``); the lesson (predictions "#### Predict 🐢|🐕: ..."
where an idea is taught); "## Exercises" (each "### Exercise N 🐢|🐕|🦁: ...", its answer cell
followed by a check cell); "## Summary"; "## Further reading". The rules for questions: ``questions``.
"""

from __future__ import annotations

import hashlib
import re

import nbformat

from .. import BRANCH, REPO
from .questions import LEVELS, question_problems

SETUP_MARKER = "# Setup: on Colab this installs the course helpers"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
KINDS = ("master", "student", "solutions")
DEFAULT_KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Lessons that run in an environment of their own (scripts/setup.sh builds it and registers its
# kernel): lesson -> (kernel name, the package extra Colab installs). Lesson 06 needs optimum-intel,
# which pins transformers<5.6; the other lessons use transformers 5.23.
OWN_ENVIRONMENT = {"06_openvino": ("course-openvino", "openvino")}


def kernelspec(lesson: str) -> dict:
    """The kernel a lesson notebook declares: ``python3``, or its own environment's kernel."""
    if lesson not in OWN_ENVIRONMENT:
        return dict(DEFAULT_KERNEL)
    name = OWN_ENVIRONMENT[lesson][0]
    return {"display_name": f"Python 3 ({name}: lesson {lesson[:2]})", "language": "python",
            "name": name}


def install_spec(lesson: str | None = None) -> str:
    """What Colab's setup cell pip-installs: this repository's package (with the lesson's extra,
    if it has one), never torch."""
    extra = f"[{OWN_ENVIRONMENT[lesson][1]}]" if lesson in OWN_ENVIRONMENT else ""
    return f"course-utils{extra} @ git+https://github.com/{REPO}@{BRANCH}"


def colab_constraints(lesson: str | None = None) -> str:
    """The constraints file Colab's setup cell installs with: the versions the course was tested
    with (``constraints-colab.txt``; lesson 06: ``constraints-colab-openvino.txt``), never torch."""
    name = "constraints-colab-openvino.txt" if lesson in OWN_ENVIRONMENT else "constraints-colab.txt"
    return f"https://raw.githubusercontent.com/{REPO}/{BRANCH}/{name}"


def notebook_relpath(lesson: str, kind: str) -> str:
    """Path of a lesson notebook in the repository (masters open as their student version)."""
    return f"notebooks/solutions/{lesson}.ipynb" if kind == "solutions" else f"notebooks/{lesson}.ipynb"


def colab_badge(lesson: str, kind: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{notebook_relpath(lesson, kind)}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def setup_source(lesson: str, kind: str) -> str:
    """The setup cell: pip-installs on Colab only, then imports the helpers and makes ``grader``."""
    strict = ", strict=True" if kind == "solutions" else ""
    return f'''{SETUP_MARKER}; locally and in CI it changes nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    helpers = "{install_spec(lesson)}"
    # the versions the course was tested with
    tested = "{colab_constraints(lesson)}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", tested, helpers], check=True)
try:
    from course_utils import exercise_checker, show_device, show_versions
except ImportError:
    raise ImportError(
        "The course helpers (course_utils) are not installed in this kernel. From the course "
        "folder run `bash scripts/lab.sh`: it sets everything up and opens JupyterLab with the "
        "right kernel. In an environment of your own: `pip install -e .` in the course folder."
    ) from None

grader = exercise_checker("{lesson}"{strict})'''


def _title_index(nb) -> int:
    """The title is the first cell that is not raw (a master starts with otter's raw config)."""
    return next((i for i, c in enumerate(nb.cells) if c.cell_type != "raw"), 0)


def stamp_header(nb, lesson: str, kind: str) -> None:
    """Write the Colab badge into the title cell and the setup cell as the first code cell."""
    title = nb.cells[_title_index(nb)]
    lines = [ln for ln in title.source.splitlines() if BADGE_IMAGE not in ln]
    lines.insert(1, "")
    lines.insert(2, colab_badge(lesson, kind))
    title.source = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    setup = nbformat.v4.new_code_cell(setup_source(lesson, kind))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.startswith(SETUP_MARKER):
            setup.metadata = cell.metadata
            nb.cells[i] = setup
            return
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code, setup)


# What Jupyter's Python kernel reports about its language. A notebook committed without it is
# marked modified by JupyterLab as soon as it opens (the kernel fills it in); the version is the
# course's Python (the set-up prefers 3.11), the rest is the same for every Python 3.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.7",
}
# Text that stands for something a contributor still has to write: the build refuses a notebook
# that contains one (a learner must never read "runs in about RUNTIME_PLACEHOLDER").
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9]*_PLACEHOLDER\b|\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b")


def normalize(nb, lesson: str) -> None:
    """No outputs, deterministic cell ids, no editor-specific metadata: clean, stable diffs."""
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    nb.metadata["kernelspec"] = kernelspec(lesson)
    for i, cell in enumerate(nb.cells):
        digest = hashlib.sha1(f"{lesson}:{i}:{cell.cell_type}".encode()).hexdigest()[:8]
        cell["id"] = f"c{i:03d}-{digest}"
        cell.metadata.pop("lines_to_next_cell", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.nbformat, nb.nbformat_minor = 4, 5


def _headings(nb) -> list[tuple[int, str]]:
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    found.append((i, line.strip()))
    return found


def _first(nb, predicate) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if predicate(c)), None)


def skeleton_problems(nb, lesson: str, kind: str) -> list[str]:
    """What a notebook lacks of the common skeleton, as readable sentences (empty when fine).

    On a master, also the rules for its questions (``questions.question_problems``)."""
    problems = _title_problems(nb, lesson, kind)
    order = _order(nb)
    for name, index in order.items():
        if index is None:
            problems.append(f"missing: {name}")
    present = [(name, i) for name, i in order.items() if i is not None]
    for (a, i), (b, j) in zip(present, present[1:]):
        if j < i:
            problems.append(f"{b} (cell {j}) must come after {a} (cell {i})")
    setup = order["setup cell"]
    if setup is not None:
        if setup != _first(nb, lambda c: c.cell_type == "code"):
            problems.append(f"the setup cell (cell {setup}) must be the first code cell")
        if nb.cells[setup].source != setup_source(lesson, kind):
            problems.append("the setup cell differs from the generated one "
                            "(run `python -m course_utils.build`)")
    problems += _exercise_problems(nb, kind, order["## Exercises"])
    if kind == "master":
        problems += question_problems(nb, order["## Exercises"], setup)
    declared = nb.metadata.get("kernelspec", {}).get("name")
    if declared != kernelspec(lesson)["name"]:
        problems.append(f"the notebook declares kernel {declared!r}, its lesson runs in "
                        f"{kernelspec(lesson)['name']!r} (run `python -m course_utils.build`)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"cell {i} carries outputs; notebooks are committed without them")
            break
    for i, cell in enumerate(nb.cells):
        found = PLACEHOLDER.search(cell.source)
        if found and cell.cell_type != "raw":
            problems.append(f"cell {i} still holds the placeholder {found.group(0)!r}: write the text "
                            "it stands for")
    return problems


def _title_problems(nb, lesson: str, kind: str) -> list[str]:
    title = nb.cells[_title_index(nb)] if nb.cells else None
    if title is None or title.cell_type != "markdown" or not title.source.startswith("# "):
        return ["the first cell must be a markdown title ('# Lesson NN: ...')"]
    if colab_badge(lesson, kind) not in title.source:
        return ["the title cell lacks this notebook's Colab badge (run `python -m course_utils.build`)"]
    return []


def _order(nb) -> dict[str, int | None]:
    """Where each part of the skeleton is (None when missing), in the order they must come."""
    code = lambda text: lambda c: c.cell_type == "code" and text in c.source  # noqa: E731
    heading = lambda text: lambda c: c.cell_type == "markdown" and any(  # noqa: E731
        ln.strip().lower().startswith(text) for ln in c.source.splitlines())
    return {
        "what you'll learn": _first(nb, heading("## what you'll learn")),
        "setup cell": _first(nb, lambda c: c.cell_type == "code" and c.source.startswith(SETUP_MARKER)),
        "versions (show_versions)": _first(nb, code("show_versions(")),
        "device (show_device)": _first(nb, code("show_device(")),
        "## Exercises": _first(nb, heading("## exercises")),
        "## Summary": _first(nb, heading("## summary")),
        "## Further reading": _first(nb, heading("## further reading")),
    }


def _exercise_problems(nb, kind: str, exercises_at: int | None) -> list[str]:
    """At least 3 exercises, each labelled and inside '## Exercises'; in the generated notebooks,
    a check cell after every exercise and prediction."""
    problems = []
    headed = [(i, c.source.strip().splitlines()[0]) for i, c in enumerate(nb.cells)
              if c.cell_type == "markdown" and c.source.strip()
              and re.match(r"^(###\s*Exercise|####\s*Predict)\b", c.source.strip())]
    exercises = [(i, title) for i, title in headed if title.startswith("###") and "Exercise" in title]
    if len(exercises) < 3:
        problems.append(f"at least 3 exercises ('### Exercise ...' cells) are needed, found {len(exercises)}")
    for i, title in exercises:
        if not any(level in title for level in LEVELS):
            problems.append(f"exercise '{title}' (cell {i}) has no level label (🐢, 🐕 or 🦁)")
        if exercises_at is not None and i < exercises_at:
            problems.append(f"exercise '{title}' (cell {i}) must be inside the '## Exercises' section")
    if kind != "master":
        checks = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "grader.check(" in c.source]
        ends = [i for i, _ in headed[1:]] + [len(nb.cells)]
        for (i, title), nxt in zip(headed, ends):
            if not any(i < j < nxt for j in checks):
                problems.append(f"'{title}' (cell {i}) has no check cell before the next question: "
                                "give it tests in the master")
    return problems
