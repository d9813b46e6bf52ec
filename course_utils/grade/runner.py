"""Grading one submission: execute it in a fresh kernel, then run each question's tests there.

Why a runner of our own, on nbclient (the library Jupyter and nbconvert execute notebooks with),
rather than otter-grader's: ``otter grade`` runs each submission in a Docker container, which this
course's machines and most instructors' do not have; ``otter run`` (``otter.execute``) executes
without any time limit, one submission at a time, writes no CSV, and keeps the results of checks
that the submission's own kernel ran (``Checker.check_if_not_already_checked``), so a submission
that fakes its check results is believed. Here:

1. the lesson's autograder tests are read once, before any submission runs (``LessonTests``), and
   written into a temporary folder of each submission's own: a submission that edits the files it
   can see (``course_utils/checks/...``) changes nothing, and the edit is reported and undone;
2. the submission's code cells run in a fresh kernel of the lesson's own (lesson 06:
   ``course-openvino``) with ``COURSE_GRADING=1`` (check cells then do nothing), skipping the cells
   tagged ``otter_ignore`` (heavy demonstrations) unless ``run_all``; a cell that raises does not
   stop the run;
3. one grading cell per question is appended: it runs
   ``course_utils.exercises.run_question(<test file copy>, globals())`` and writes the result, with
   a token the submission cannot know, as JSON to a file. Scores come only from those files: never
   from the notebook's output (a printed "score: 4/4" counts for nothing), nor from ``grader``.

Limits: a cell (a grading cell too) that runs longer than ``cell_timeout`` is interrupted, so an
endless loop in one answer costs that question only; the whole run stops at ``timeout``; a kernel
that dies is reported. A submission's code runs in the same process as its tests: this guards
against mistakes and the tricks above, not against a determined attacker (run untrusted code in a
container or a throwaway account).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..exercises import (
    CHECKS_DIR,
    GRADING_ENV,
    CaseResult,
    QuestionResult,
    lesson_names,
    read_test_file,
)

IGNORE_TAG = "otter_ignore"  # otter-grader's tag for cells the grader skips
ANSWER_TAGS = ("otter_answer_cell", "otter_assign_solution_cell")  # student, solutions
DEFAULT_TIMEOUT = 600.0  # seconds for a whole submission
DEFAULT_CELL_TIMEOUT = 120.0  # seconds for one cell, or one question's tests


# ---------------------------------------------------------------- which lesson, which tests
class UnknownLesson(ValueError):
    """The submission's lesson cannot be told from its metadata or file name."""


def lesson_of(path: str | Path, nb: dict | None = None, known: list[str] | None = None) -> str:
    """Which lesson a notebook is: its otter metadata (``assignment_name``), else a lesson name in
    its file name (``alice_01_pipeline_basics.ipynb``), else its ``NN_`` number."""
    known = lesson_names() if known is None else known
    name = ((nb or {}).get("metadata", {}).get("otter", {}) or {}).get("assignment_name")
    if name in known:
        return name
    stem = Path(path).stem
    found = [lesson for lesson in known if lesson in stem]
    if len(found) == 1:
        return found[0]
    numbered = [lesson for lesson in known if stem[:3] == lesson[:3] and stem[:2].isdigit()]
    if len(numbered) == 1:
        return numbered[0]
    raise UnknownLesson(
        f"unknown lesson: no otter metadata{f' (it names {name!r})' if name else ''} and the file "
        f"name matches no lesson; rename it to NN_name.ipynb or pass --lesson "
        f"(one of: {', '.join(known) or 'none'})")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class LessonTests:
    """A lesson's test files, read once before grading starts (``files``: relative path -> text).

    ``points`` maps each question to its points (from the autograder tests). ``folder`` is where
    they were read from, so that ``changed_on_disk`` can tell whether a submission edited them.
    """

    lesson: str
    files: dict[str, str]
    points: dict[str, float]
    folder: str

    @classmethod
    def load(cls, lesson: str, checks_dir: str | Path = CHECKS_DIR) -> LessonTests:
        folder = Path(checks_dir) / lesson
        if not (folder / "autograder").is_dir():
            raise UnknownLesson(f"no tests for lesson {lesson!r} in {Path(checks_dir)}: run "
                                f"`python -m course_utils.build {lesson}`")
        files = {str(p.relative_to(folder)): p.read_text(encoding="utf-8")
                 for p in sorted(folder.glob("*/*.py"))}
        points = {}
        for path in sorted((folder / "autograder").glob("*.py")):
            points[path.stem] = read_test_file(path).points
        return cls(lesson, files, points, str(folder))

    @property
    def questions(self) -> list[str]:
        return sorted(self.points)

    def write_autograder(self, dest: Path) -> dict[str, Path]:
        """Write the autograder tests into ``dest``; returns question -> file."""
        dest.mkdir(parents=True, exist_ok=True)
        written = {}
        for question in self.questions:
            written[question] = dest / f"{question}.py"
            written[question].write_text(self.files[f"autograder/{question}.py"], encoding="utf-8")
        return written

    def changed_on_disk(self) -> list[str]:
        """Test files that differ on disk from what was read (edited, deleted or added)."""
        folder = Path(self.folder)
        now = {str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
               for p in folder.glob("*/*.py")}
        return sorted(name for name in set(now) | set(self.files)
                      if _digest(now.get(name, "")) != _digest(self.files.get(name, "\0")))

    def restore(self, names: list[str]) -> None:
        """Put back the files named by ``changed_on_disk`` (remove the ones that were added)."""
        for name in names:
            path = Path(self.folder) / name
            if name in self.files:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(self.files[name], encoding="utf-8")
            else:
                path.unlink(missing_ok=True)


# ---------------------------------------------------------------- results
@dataclass
class CellError:
    """A cell of the submission that raised (or was stopped)."""

    index: int
    name: str
    value: str
    answer_cell: bool
    source: str = ""

    def describe(self) -> str:
        kind = "answer cell" if self.answer_cell else "cell"
        first = self.source.strip().splitlines()[0][:60] if self.source.strip() else ""
        return f"{kind} {self.index} (`{first}`) raised {self.name}: {self.value}".rstrip(": ")


@dataclass
class SubmissionResult:
    """One graded submission. ``status`` is ``"ok"`` or says why grading did not go normally."""

    file: str
    lesson: str | None = None
    questions: list[QuestionResult] = field(default_factory=list)
    status: str = "ok"
    notes: list[str] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    seconds: float = 0.0
    timings: list[tuple[str, float]] = field(default_factory=list)  # (cell, seconds), run order
    tampered: list[str] = field(default_factory=list)  # test files that changed on disk meanwhile

    @property
    def total(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def possible(self) -> float:
        return sum(q.points for q in self.questions)

    def scores(self) -> dict[str, float]:
        return {q.name: q.score for q in self.questions}

    def line(self) -> str:
        """One line: file, lesson, score, status."""
        score = f"{self.total:g}/{self.possible:g}" if self.questions else "-"
        return f"{self.file}  {self.lesson or '?'}  {score}  {self.status}"

    def slowest(self, count: int = 8) -> list[str]:
        """The cells that took longest to run, slowest first (where a lesson's grading time goes)."""
        ranked = sorted(self.timings, key=lambda item: -item[1])[:count]
        return [f"{seconds:6.1f} s  {label}" for label, seconds in ranked]

    def report(self) -> str:
        """What the learner reads: each question, every failed case's full message (hidden ones
        included, marked), the score, and why grading did not go normally if it did not."""
        lines = [f"{self.file}: lesson {self.lesson or '?'}"]
        if self.status != "ok":
            lines.append(f"status: {self.status}")
        for question in self.questions:
            mark = "✅" if question.passed else "❌"
            lines.append(f"{mark} {question.name}: {question.score:g}/{question.points:g}")
            for case in question.failures():
                label = "(hidden) " if case.hidden else ""
                message = case.message.replace("\n", "\n     ")
                lines.append(f"   - {label}{message}")
        lines += [f"note: {note}" for note in self.notes]
        if self.questions:
            lines.append(f"score: {self.total:g}/{self.possible:g}")
        return "\n".join(lines)


# ---------------------------------------------------------------- the grading cells
GRADING_CELL = '''\
# appended by course_utils.grade: run the tests of question {question!r}
def _course_grade_question():
    import json
    try:
        from course_utils.exercises import run_question
        result = run_question({test!r}, globals()).as_dict()
    except BaseException as err:  # noqa: BLE001 - recorded, the next question still runs
        result = {{"error": f"{{type(err).__name__}}: {{err}}"}}
    with open({out!r}, "w", encoding="utf-8") as f:
        json.dump({{"token": {token!r}, "result": result}}, f)
_course_grade_question()
del _course_grade_question'''


def _read_result(question: str, points: float, out: Path, token: str, stopped: str | None):
    """The question's result from its file, or a failed result that says why there is none."""
    why = stopped or "its tests did not run (the run ended before this question)"
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
        if data.get("token") != token:
            raise ValueError("wrong token")
        if "error" in data["result"]:
            why = f"grading this question failed: {data['result']['error']}"
        else:
            result = QuestionResult.from_dict(data["result"])
            result.points = points
            return result
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return QuestionResult(question, points, [CaseResult("grading", False, False, f"not graded: {why}")])


# ---------------------------------------------------------------- executing
class _SubmissionTimeout(Exception):
    pass


def _kernel_env() -> dict:
    env = dict(os.environ)
    env[GRADING_ENV] = "1"
    env.pop("COURSE_STRICT_CHECKS", None)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _cells_to_run(nb, run_all: bool) -> list[tuple[int, dict]]:
    """(index in the submission, cell) of each code cell that grading executes."""
    chosen = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not str(cell.get("source", "")).strip():
            continue
        if not run_all and IGNORE_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        chosen.append((index, cell))
    return chosen


@dataclass
class _Run:
    """What executing the prepared notebook gave: per position, errors and seconds."""

    errors: list[tuple[int, str, str]] = field(default_factory=list)  # position, name, value
    seconds: dict[int, float] = field(default_factory=dict)
    fatal: str | None = None


def _execute(run_nb, origin: list, kernel: str, work: Path, timeout: float,
             cell_timeout: float) -> _Run:
    """Execute ``run_nb`` in a fresh ``kernel``; record each cell's error (raised, or stopped at
    ``cell_timeout``) and seconds, and a fatal status (kernel died, timed out, did not start)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    deadline = time.monotonic() + timeout
    run = _Run()
    current = {"position": None, "since": 0.0}

    def cell_limit(cell) -> int:
        return max(1, math.ceil(min(cell_timeout, deadline - time.monotonic())))

    def on_start(cell, cell_index):
        if time.monotonic() >= deadline:
            raise _SubmissionTimeout()
        current.update(position=cell_index, since=time.monotonic())

    def on_executed(cell, cell_index, execute_reply):
        run.seconds[cell_index] = time.monotonic() - current["since"]
        content = (execute_reply or {}).get("content", {})
        if content.get("status") == "error":
            run.errors.append((cell_index, content.get("ename", "Error"), str(content.get("evalue", ""))))

    quiet = logging.getLogger("course_utils.grade.nbclient")
    quiet.setLevel(logging.CRITICAL)
    client = NotebookClient(
        run_nb, kernel_name=kernel, timeout_func=cell_limit, interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeout", "evalue": f"stopped after {cell_timeout:g} s "
                          "(an endless loop?)", "traceback": []},
        allow_errors=True, shutdown_kernel="immediate", startup_timeout=120, log=quiet,
        resources={"metadata": {"path": str(work)}}, on_cell_start=on_start,
        on_cell_executed=on_executed)

    def where() -> str:
        position = current["position"]
        if position is None:
            return "while starting"
        label = origin[position]
        src = run_nb.cells[position].source.strip().splitlines()[0][:60]
        return (f"in cell {label} (`{src}`)" if isinstance(label, int)
                else f"while grading question {label!r}")

    try:
        # The kernel's own stdout/stderr (warnings, a crash's last words) are not the grade.
        client.execute(env=_kernel_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if time.monotonic() >= deadline:  # the last cell ran into the deadline
            raise _SubmissionTimeout()
    except _SubmissionTimeout:
        run.fatal = (f"timed out: still running after {timeout:g} s, {where()}; raise --timeout "
                     "if the lesson needs longer")
    except DeadKernelError:
        run.fatal = (f"the kernel died {where()}: a cell called os._exit() or exit(), or ran out "
                     "of memory")
    except Exception as err:  # noqa: BLE001 - the kernel could not start: say which and why
        from jupyter_client.kernelspec import NoSuchKernel

        run.fatal = (f"kernel {kernel!r} is not installed: run `bash scripts/setup.sh` (or "
                     f"`python -m ipykernel install --user --name {kernel}`)"
                     if isinstance(err, NoSuchKernel)
                     else f"could not run the notebook ({type(err).__name__}: {err})")
    return run


def _read_notebook(path: Path):
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
        with warnings.catch_warnings():  # a missing cell id, say: not the learner's concern
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no cells")
        return nb, None
    except FileNotFoundError:
        return None, "no such file"
    except Exception as err:  # noqa: BLE001 - any reason it is not a notebook: say it
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        return None, (f"not a notebook ({reason}): submit the .ipynb file saved from Jupyter")


def _check_cell_notes(nb, questions: list[str]) -> list[str]:
    sources = {str(c.get("source", "")).strip() for c in nb.cells if c.get("cell_type") == "code"}
    missing = [q for q in questions if f'grader.check("{q}")' not in sources]
    if not missing:
        return []
    return [f"check cell deleted or edited for {', '.join(missing)} (graded anyway: the grader runs "
            "the tests itself)"]


def grade_notebook(path: str | Path, lesson: str | None = None, *, run_all: bool = False,
                   timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                   tests: LessonTests | None = None, label: str | None = None,
                   restore_tests: bool = True) -> SubmissionResult:
    """Grade one submitted notebook; never raises for a bad submission (its ``status`` says why).

    ``lesson``: the lesson, if the notebook's metadata and file name do not tell; ``run_all``:
    execute the cells tagged ``otter_ignore`` too (CI does, on the solutions); ``tests``: the
    lesson's tests read beforehand (``LessonTests.load``; a batch reads them once); ``label``: the
    name the result shows (default: the path); ``restore_tests``: put back test files that the
    submission edited on disk (a parallel batch does it itself, once).
    """
    start = time.monotonic()
    path = Path(path)
    result = SubmissionResult(label or str(path))
    nb, problem = _read_notebook(path)
    try:
        if problem:
            result.status = problem
            result.lesson = tests.lesson if tests else (lesson or lesson_of(path))
            return result
        result.lesson = tests.lesson if tests else (lesson or lesson_of(path, nb))
        tests = tests or LessonTests.load(result.lesson)
        _grade_in_kernel(nb, tests, result, run_all, timeout, cell_timeout, restore_tests)
        return result
    except UnknownLesson as err:
        if result.status == "ok":
            result.status = str(err)
        return result
    finally:
        result.seconds = time.monotonic() - start


def _grade_in_kernel(nb, tests: LessonTests, result: SubmissionResult, run_all: bool,
                     timeout: float, cell_timeout: float, restore_tests: bool) -> None:
    import nbformat

    from ..build.skeleton import kernelspec

    kernel = kernelspec(tests.lesson)["name"]
    declared = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    if declared and declared != kernel:
        result.notes.append(f"the notebook declares kernel {declared!r}; graded in the lesson's "
                            f"kernel {kernel!r}")
    result.notes += _check_cell_notes(nb, tests.questions)
    chosen = _cells_to_run(nb, run_all)
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        tmp_path = Path(tmp)
        test_files = tests.write_autograder(tmp_path / "tests")
        (tmp_path / "results").mkdir()
        (tmp_path / "work").mkdir()
        outs = {q: tmp_path / "results" / f"{q}.json" for q in tests.questions}
        cells = [nbformat.v4.new_code_cell(cell["source"]) for _, cell in chosen]
        cells += [nbformat.v4.new_code_cell(GRADING_CELL.format(
            question=q, test=str(test_files[q]), out=str(outs[q]), token=token))
            for q in tests.questions]
        origin = [index for index, _ in chosen] + list(tests.questions)
        run_nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec(tests.lesson)})
        run = _execute(run_nb, origin, kernel, tmp_path / "work", timeout, cell_timeout)
        stopped = {origin[pos]: f"its tests were {value}" for pos, name, value in run.errors
                   if name == "CellTimeout" and not isinstance(origin[pos], int)}
        result.questions = [_read_result(q, tests.points[q], outs[q], token, stopped.get(q))
                            for q in tests.questions]
    answer = {index: bool(set(ANSWER_TAGS) & set(cell.get("metadata", {}).get("tags", [])))
              for index, cell in chosen}
    for pos, seconds in sorted(run.seconds.items()):
        label = origin[pos]
        first = run_nb.cells[pos].source.strip().splitlines()[0][:60]
        result.timings.append((f"cell {label}: {first}" if isinstance(label, int)
                               else f"tests of {label}", seconds))
    for pos, name, value in run.errors:
        if isinstance(origin[pos], int):
            index = origin[pos]
            result.errors.append(CellError(index, name, value, answer[index],
                                           str(nb.cells[index].get("source", ""))))
    if run.fatal:
        result.status = run.fatal
    result.notes += [f"{e.describe()}" for e in result.errors]
    result.tampered = tests.changed_on_disk()
    if result.tampered:
        if restore_tests:
            tests.restore(result.tampered)
        result.status = (f"it edited the course's test files ({', '.join(result.tampered)}): graded "
                         f"with the originals{', files restored' if restore_tests else ''}"
                         + (f"; {result.status}" if result.status != "ok" else ""))
