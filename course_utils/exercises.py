"""Exercise checks inside notebooks: what a notebook's ``grader.check("name")`` runs.

Each lesson's tests are generated from its master notebook by ``python -m course_utils.build``
into ``course_utils/checks/<lesson>/``:

- ``student/``: the public tests that a check cell runs while the learner works;
- ``autograder/``: public and hidden tests, used by ``python -m course_utils.grade``.

They ship inside the package, so a check cell works the same locally, in CI and on Colab (where
the notebook is opened alone, without the repository beside it).

The test files are otter-grader's exception-based format (otter parses them; ``read_test_file``
reads them here without importing otter, see ``test_case``). Running them and
reporting is done here, for three reasons otter's own ``Notebook.check`` does not cover: a failing
check must show only the test's own message (otter also prints the test's source line, which can
give the answer away); a name the learner has not defined yet gets a message that says so; and
the grader (``course_utils.grade``) must run the same code and record the same messages.

Helpers for writing checks: ``within`` bounds a call in time (a check must never hang), and
``answered`` tells an unanswered ``...`` from a wrong answer.
"""

from __future__ import annotations

import inspect
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

CHECKS_DIR = Path(__file__).parent / "checks"
GRADING_ENV = "COURSE_GRADING"  # set by the grader: check cells do nothing, the grader runs the tests
STRICT_ENV = "COURSE_STRICT_CHECKS"


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


# ---------------------------------------------------------------- helpers for writing checks
class CheckTimedOut(AssertionError):
    """A call inside a check did not finish in time (``within``)."""


def within(seconds: float, fn, *args, hint: str = "", **kwargs):
    """Call ``fn(*args, **kwargs)`` and return its result, or fail the check after ``seconds``.

    The call runs in a daemon thread: code that deadlocks (a lock held across an ``await``, a
    queue nobody fills) is left behind, and the check fails with ``hint`` instead of hanging the
    notebook or the grader. A call still running then is asked to stop (``_stop_thread``), so an
    endless loop does not keep a core busy for the rest of the session. Exceptions from ``fn`` are
    raised here as they are.
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(target=run, daemon=True, name=f"check:{getattr(fn, '__name__', 'call')}")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _stop_thread(worker)
        raise CheckTimedOut(f"no answer within {seconds:g} s" + (f": {hint}" if hint else ""))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _stop_thread(thread: threading.Thread) -> None:
    """Raise ``CheckTimedOut`` inside ``thread`` at its next Python instruction.

    Written by hand because Python threads have no ``stop()`` and no library offers one: this is
    CPython's ``PyThreadState_SetAsyncExc``. A pure-Python endless loop ends at once; a thread
    blocked inside a C call (a lock, a socket read) ends when that call returns, if ever.
    """
    import ctypes

    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(CheckTimedOut))


def _stub():
    ...


def answered(value) -> bool:
    """False for the ``...`` an unsolved answer cell holds, or a function whose body is ``...``."""
    if value is Ellipsis or value is None:
        return False
    code = getattr(value, "__code__", None)
    return code is None or code.co_code != _stub.__code__.co_code


# ---------------------------------------------------------------- results
@dataclass
class CaseResult:
    """One test case: its name, whether learners see it, and the message when it failed."""

    name: str
    hidden: bool
    passed: bool
    message: str = ""


@dataclass
class QuestionResult:
    """One question's test cases. ``score`` is all or nothing, as the course's questions are."""

    name: str
    points: float
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.cases) and all(case.passed for case in self.cases)

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def failures(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.passed]

    def lines(self) -> list[str]:
        """What a learner reads: a verdict, then one line per failed case (its message only)."""
        shown = [case for case in self.cases if not case.hidden]
        hidden = len(self.cases) - len(shown)
        if self.passed:
            more = f"; grading runs {hidden} more hidden check(s)" if hidden else ""
            return [f"✅ {self.name}: {len(shown)} check(s) pass{more}"]
        lines = [f"❌ {self.name}: {len(self.failures())} of {len(self.cases)} check(s) fail"]
        lines += [f"   - {case.message}" for case in self.failures()]
        return lines

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict:
        return {**asdict(self), "score": self.score, "passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict) -> QuestionResult:
        cases = [CaseResult(**case) for case in data.get("cases", [])]
        return cls(data["name"], data["points"], cases)


# ---------------------------------------------------------------- running one question's tests
class test_case:  # noqa: N801 - the name otter's test files import
    """otter-grader's ``test_case`` decorator, as the generated test files use it.

    Why not otter's own (``otter.test_files.test_case``): importing it imports all of otter, which
    took 9-10 s on the course machine (the biggest part: nbformat's JSON-schema validation), against
    5 s for torch and transformers together. A check cell would pay that on its first run and the
    grader in every kernel. The format is small (a module with ``name``, ``points`` and decorated
    test functions); ``tests/test_exercises.py`` checks that this reads every generated test file
    as otter does.
    """

    def __init__(self, name=None, points=None, hidden=False, success_message=None,
                 failure_message=None):
        self.name, self.points, self.hidden = name, points, hidden
        self.func = None

    def __call__(self, func):
        self.func = func
        return self

    def params(self) -> list[str]:
        return list(inspect.signature(self.func).parameters)

    def call(self, env: dict) -> None:
        """Call the test, each parameter taken from ``env`` (``env`` itself for one named so)."""
        self.func(**{name: env if name == "env" else env.get(name) for name in self.params()})


@dataclass
class TestFile:
    """One question's test file: its name, its points, and its test cases in file order."""

    __test__ = False  # not a pytest test class

    name: str
    points: float
    cases: list[test_case]


def read_test_file(path: str | Path) -> TestFile:
    """Read an otter exception-based test file (what ``python -m course_utils.build`` writes)."""
    import builtins
    import types

    path = Path(path)
    stub = types.SimpleNamespace(test_case=test_case)

    def importer(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "otter.test_files" and level == 0:
            return stub
        return builtins.__import__(name, globals, locals, fromlist, level)

    env = {"__builtins__": {**vars(builtins), "__import__": importer},
           "__name__": f"course_checks.{path.stem}"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), env)  # noqa: S102
    if "name" not in env:
        raise ValueError(f"test file {path} does not define 'name'")
    cases = [value for value in env.values() if isinstance(value, test_case)]
    for number, case in enumerate(cases, 1):
        case.name = case.name or f"{env['name']} - {number}"
    points = env.get("points")
    if not isinstance(points, (int, float)):
        points = sum(case.points or 0 for case in cases) or 1
    return TestFile(env["name"], points, cases)


def _explain(err: BaseException) -> str:
    """The message a learner sees for an exception raised inside a check."""
    if isinstance(err, AssertionError):
        text = str(err).strip()
        return text or "a check failed without a message (please report this to the course authors)"
    if isinstance(err, KeyboardInterrupt):
        return "stopped: the check took too long (an endless loop?)"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"your code raised {type(err).__name__}" + (f": {text}" if text else "")


def run_question(test_file: str | Path, env: dict, *, include_hidden: bool = True) -> QuestionResult:
    """Run the test cases of one otter test file against ``env`` (a notebook's globals).

    A case whose parameters name something ``env`` lacks fails with "define `x` first" rather
    than otter's default (it passes ``None``). Hidden cases run only with ``include_hidden``.
    An interrupt (the grader's per-question time limit, or the learner's stop button) fails the
    running case and skips the rest, so one endless loop costs one interrupt, not one per case.
    """
    test = read_test_file(test_file)
    result = QuestionResult(test.name, test.points)
    for case in test.cases:
        if case.hidden and not include_hidden:
            continue
        missing = [name for name in case.params() if name != "env" and name not in env]
        if missing:
            message = (f"`{missing[0]}` is not defined: run the cell that defines it (and the "
                       "cells above it) before this check")
            result.cases.append(CaseResult(case.name, case.hidden, False, message))
            continue
        try:
            case.call(env)
        except BaseException as err:  # noqa: BLE001 - every failure becomes a message
            if isinstance(err, (SystemExit, GeneratorExit)):
                raise
            result.cases.append(CaseResult(case.name, case.hidden, False, _explain(err)))
            if isinstance(err, KeyboardInterrupt):
                _skip_rest(result, test.cases, include_hidden)
                break
        else:
            result.cases.append(CaseResult(case.name, case.hidden, True))
    return result


def _skip_rest(result: QuestionResult, cases, include_hidden: bool) -> None:
    """Record the cases after an interrupted one as failed, not run."""
    done = {case.name for case in result.cases}
    for case in cases:
        if case.name not in done and (include_hidden or not case.hidden):
            result.cases.append(CaseResult(case.name, case.hidden, False,
                                           "not run: an earlier check of this question was stopped"))


def grading_mode() -> bool:
    """True while ``course_utils.grade`` executes a submission (check cells then do nothing)."""
    return os.environ.get(GRADING_ENV) == "1"


class ExerciseChecker:
    """What a notebook's ``grader`` is: ``grader.check("name")`` runs one exercise's public tests.

    A failing check shows what is wrong and how to fix it, and does not stop the notebook, so an
    unsolved notebook still runs to the end. With ``strict=True`` (the solutions notebooks) or the
    environment variable ``COURSE_STRICT_CHECKS=1``, a failing check raises, so CI notices. While
    the grader runs a submission, check cells do nothing: the grader runs every test itself.
    """

    def __init__(self, lesson: str, strict: bool = False) -> None:
        self.lesson = lesson
        self.strict = strict or os.environ.get(STRICT_ENV) == "1"
        self._tests_dir = _lesson_dir(lesson) / "student"

    def questions(self) -> list[str]:
        return sorted(path.stem for path in self._tests_dir.glob("*.py"))

    def check(self, question: str, global_env: dict | None = None) -> QuestionResult | None:
        """Run ``question``'s public tests against the notebook's variables (or ``global_env``)."""
        if grading_mode():
            return None
        path = self._tests_dir / f"{question}.py"
        if not path.is_file():
            raise ValueError(f"No check named {question!r} in lesson {self.lesson} "
                             f"(there are: {', '.join(self.questions())})")
        env = global_env if global_env is not None else inspect.currentframe().f_back.f_globals
        result = run_question(path, env, include_hidden=False)
        if self.strict and not result.passed:
            raise AssertionError(f"check {question!r} failed:\n{result}")
        return result

    def check_all(self) -> None:
        """Run every exercise's public checks and print one line for each, then a count.

        These are the checks learners see; grading (``python -m course_utils.grade``) runs the
        hidden checks too, so a question can pass here and still lose its point.
        """
        if grading_mode():
            return
        env = inspect.currentframe().f_back.f_globals
        results = [run_question(self._tests_dir / f"{q}.py", env, include_hidden=False)
                   for q in self.questions()]
        for result in results:
            print(result.lines()[0])
        passed = sum(r.passed for r in results)
        hidden = _hidden_counts(self.lesson)
        print(f"{passed}/{len(results)} questions pass their public checks. Grading also runs "
              f"{sum(hidden.values())} hidden checks, so a question can pass here and still fail there.")
        if self.strict and passed < len(results):
            raise AssertionError("some checks failed")


def _hidden_counts(lesson: str) -> dict[str, int]:
    """How many hidden test cases each question of ``lesson`` has (its autograder tests)."""
    folder = _lesson_dir(lesson) / "autograder"
    return {path.stem: sum(case.hidden for case in read_test_file(path).cases)
            for path in sorted(folder.glob("*.py"))}


def exercise_checker(lesson: str, strict: bool = False) -> ExerciseChecker:
    """The ``grader`` object a lesson notebook creates in its first cells."""
    return ExerciseChecker(lesson, strict=strict)
