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
# "1": check cells also run the hidden tests (CI's end-to-end run of the solutions notebooks: with
# COURSE_STRICT_CHECKS it shows every test passing without grading the notebook a second time)
HIDDEN_ENV = "COURSE_HIDDEN_CHECKS"


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


class _Flushed(Exception):
    """Raised in a helper thread only to clear CPython's "an exception is pending" flag."""


def _stop_thread(thread: threading.Thread, grace: float = 1.0) -> None:
    """Raise ``CheckTimedOut`` inside ``thread`` at its next Python instruction.

    Written by hand because Python threads have no ``stop()`` and no library offers one: this is
    CPython's ``PyThreadState_SetAsyncExc``. A pure-Python endless loop ends at once. A thread
    blocked inside a C call (a deadlocked lock, a socket read) cannot take it; and while it holds
    a pending exception, CPython (3.11) makes *every* thread check for it at every few
    instructions, which slowed all later Python code here several times over (measured: a check
    that takes 4.8 s took 24 s after one deadlocked answer). So, after ``grace`` seconds, a thread
    still alive gets its exception taken back and is left blocked (it costs nothing asleep), and
    the thread that took it back takes one exception itself, which clears the flag.
    """
    import ctypes

    set_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    if thread.ident is None or not thread.is_alive():
        return
    set_exc(ctypes.c_ulong(thread.ident), ctypes.py_object(CheckTimedOut))

    def take_back() -> None:
        thread.join(grace)
        if not thread.is_alive():
            return
        set_exc(ctypes.c_ulong(thread.ident), None)  # NULL: nothing pending for it any more
        try:  # this thread takes one itself (at once, or in the loop), which clears the flag
            set_exc(ctypes.c_ulong(threading.get_ident()), ctypes.py_object(_Flushed))
            for _ in range(100_000):
                pass
        except _Flushed:
            pass

    threading.Thread(target=take_back, daemon=True, name="check:take-back").start()


def _stub():
    ...


def _is_stub_function(value) -> bool:
    """A function whose body does nothing but return None (``...``, ``pass``, a docstring)."""
    import dis

    code = getattr(value, "__code__", None)
    if code is None or not isinstance(code, type(_stub.__code__)) or code.co_name == "<lambda>":
        return False  # a lambda is written on purpose, even ``lambda: None``
    steps = [(i.opname, i.argval) for i in dis.get_instructions(code)
             if i.opname not in ("RESUME", "NOP", "CACHE")]
    return steps in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])


def _is_stub_class(value) -> bool:
    """A class written in a notebook whose own functions are all ``...`` (or that has none, and no
    fields): what an unsolved answer cell such as ``class ChatBody(BaseModel): ...`` defines."""
    if not isinstance(value, type):
        return False
    own = vars(value)
    functions = [f for f in (getattr(v, "__func__", v) for v in own.values()) if hasattr(f, "__code__")]
    if functions:
        return all(_is_stub_function(f) for f in functions)
    fields = own.get("__annotations__") or {}
    plain = [k for k in own if not k.startswith("_") and not k.startswith("model_")]
    # written in a notebook (``__main__``), or exec'd without a module name (the tests' answers)
    return value.__module__ in ("__main__", "builtins") and not fields and not plain


def answered(value) -> bool:
    """False for the ``...`` an unsolved answer cell holds, ``None``, a function whose body is
    ``...``, or a notebook class whose functions all are."""
    if value is Ellipsis or value is None:
        return False
    return not (_is_stub_function(value) or _is_stub_class(value))


def _unanswered(value) -> bool:
    """Still the stub of a student notebook (``...``, a ``...`` function or class); ``None`` is
    left to each check, which may accept it."""
    return value is Ellipsis or _is_stub_function(value) or _is_stub_class(value)


# ---------------------------------------------------------------- predictions
# A prediction is worth making before the reveal: its check gives the point for a prediction
# written as a plain value in the form asked, then says whether the learner's own run agreed. The
# grading machine's measurement never decides the point. The same normaliser serves every lesson.
_PLAIN = (str, int, float)
_AROUND = " \t\n()[].,:;'\"`"


def _plain(value) -> bool:
    """A value typed in a cell: exactly str, int or float (no bool, no subclass, no object that
    computes its answer when compared)."""
    return type(value) in _PLAIN


def normalize_choice(text: str) -> str:
    """``"a"``, ``"A"``, ``" (b) "``, ``"c."``, ``"d)"`` -> ``"a"``, ``"a"``, ``"b"``, ``"c"``,
    ``"d"``: lower case, without the brackets, dots and spaces around it."""
    return text.strip(_AROUND).lower()


def _first(name: str, example: str) -> str:
    return f"write your prediction first, for example {name} = {example}"


def prediction_choice(value, name: str, letters: str) -> str:
    """The letter a prediction names (one of ``letters``), or an ``AssertionError`` saying what to
    write. Accepts ``"b"``, ``"B"``, ``"(b)"``, ``"b."``."""
    example = f'"{letters[0]}"'
    assert value is not None and value is not Ellipsis, _first(name, example)
    listed = ", ".join(f'"{c}"' for c in letters)
    assert _plain(value) and isinstance(value, str), (
        f"write one letter in quotes (one of {listed}), for example {name} = {example}")
    letter = normalize_choice(value)
    assert letter in letters and len(letter) == 1, f"write one of the letters {listed}"
    return letter


def prediction_choices(value, name: str, letters: str) -> set[str]:
    """The set of letters a prediction names: ``"ab"``, ``"a, b"``, ``["a", "b"]`` or ``""``
    (none of them)."""
    example = f'"{letters[:2]}"'
    assert value is not None and value is not Ellipsis, _first(name, example)
    if _plain(value) and isinstance(value, str):
        items = [ch for ch in value.lower() if ch.isalnum()]
    elif type(value) in (list, tuple, set, frozenset) and all(_plain(v) and isinstance(v, str)
                                                               for v in value):
        items = [normalize_choice(v) for v in value]
    else:
        raise AssertionError(f"write the letters as one string, for example {name} = {example}")
    chosen = set(items)
    assert chosen <= set(letters), f"use only the letters {', '.join(letters)}"
    return chosen


def prediction_number(value, name: str, allowed=None) -> float:
    """The number a prediction names (``3``, ``3.0`` or ``"3"``), one of ``allowed`` if given."""
    example = str(allowed[0]) if allowed else "3"
    assert value is not None and value is not Ellipsis, _first(name, example)
    assert _plain(value), f"write a number (digits), for example {name} = {example}"
    try:
        number = float(str(value).strip(_AROUND))
    except ValueError:
        raise AssertionError(f"write a number (digits), for example {name} = {example}") from None
    if allowed is not None:
        assert number in allowed, f"write one of {', '.join(map(str, allowed))}"
    return number


def prediction_numbers(value, name: str, count: int, low=None, high=None) -> tuple[float, ...]:
    """A tuple (or list) of ``count`` numbers, each within ``low``..``high`` if given."""
    example = "(" + ", ".join(["200"] * count) + ")"
    assert value is not None and value is not Ellipsis, _first(name, example)
    assert type(value) in (tuple, list) and len(value) == count, (
        f"write {count} numbers in a tuple, for example {name} = {example}")
    numbers = tuple(prediction_number(v, name) for v in value)
    if low is not None and high is not None:
        assert all(low <= n <= high for n in numbers), f"each number is from {low:g} to {high:g}"
    return numbers


def _shown(value) -> str:
    if isinstance(value, (set, frozenset)):
        return '"' + "".join(sorted(value)) + '"' if value else "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    return f'"{value}"' if isinstance(value, str) else str(value)


def reveal(guess, truth, hint: str = "") -> bool:
    """Print whether a prediction agreed with what the learner's own run showed (the point is
    already given for committing one). Returns True when it did."""
    if guess == truth:
        print(f"Your prediction, {_shown(guess)}, is what your run showed. (1 point for predicting.)")
        return True
    print(f"Your prediction was {_shown(guess)}; your run showed {_shown(truth)}. "
          f"{hint + ' ' if hint else ''}(1 point for predicting: the explanation below says why.)")
    return False


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
            more = f", and {hidden} hidden check(s)" if hidden else ""
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
    stubs = sorted({name for case in test.cases for name in case.params()
                    if name != "env" and name in env and _unanswered(env[name])})
    if stubs:  # one message for an unsolved answer, not one per test case
        result.cases.append(CaseResult("answered", False, False, (
            f"write `{stubs[0]}` first: its answer cell still holds `...`")))
        return result
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
    environment variable ``COURSE_STRICT_CHECKS=1``, a failing check raises, so CI notices. With
    ``COURSE_HIDDEN_CHECKS=1`` (CI) a check runs the hidden tests too. While the grader runs a
    submission, check cells do nothing: the grader runs every test itself.

    In strict mode ``check_all()`` does not run a second time a question whose check passed on the
    very objects the notebook still holds (CI's solutions run: each check cell has just run it,
    hidden tests included); a learner's ``check_all()`` always runs every check.
    """

    def __init__(self, lesson: str, strict: bool = False) -> None:
        self.lesson = lesson
        self.strict = strict or os.environ.get(STRICT_ENV) == "1"
        self.hidden = os.environ.get(HIDDEN_ENV) == "1"
        self._tests_dir = _lesson_dir(lesson) / ("autograder" if self.hidden else "student")
        self._passed: dict[str, tuple[list, QuestionResult]] = {}  # strict mode: question -> (inputs, result)

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
        result = run_question(path, env, include_hidden=self.hidden)
        if self.strict and not result.passed:
            raise AssertionError(f"check {question!r} failed:\n{result}")
        if self.strict:
            self._passed[question] = (_inputs(path, env), result)
        return result

    def _run(self, question: str, env: dict) -> QuestionResult:
        """``question``'s result: the strict-mode check that passed on these same objects, or a new run."""
        path = self._tests_dir / f"{question}.py"
        earlier = self._passed.get(question)
        if earlier is not None and _same_inputs(earlier[0], env):
            return earlier[1]
        return run_question(path, env, include_hidden=self.hidden)

    def check_all(self) -> None:
        """Run every exercise's public checks and print one line for each, then a count.

        These are the checks learners see; grading (``python -m course_utils.grade``) runs the
        hidden checks too, so a question can pass here and still lose its point.
        """
        if grading_mode():
            return
        env = inspect.currentframe().f_back.f_globals
        results = [self._run(q, env) for q in self.questions()]
        for result in results:  # a failing question shows what failed, as its own check does
            print(result.lines()[0] if result.passed else "\n".join(result.lines()))
        passed = sum(r.passed for r in results)
        hidden = _hidden_counts(self.lesson)
        print(f"{passed}/{len(results)} questions pass their public checks. Grading also runs "
              f"{sum(hidden.values())} hidden checks, so a question can pass here and still fail there.")
        if self.strict and passed < len(results):
            raise AssertionError("some checks failed")


def _inputs(path: Path, env: dict) -> list | None:
    """What a question's tests read from the notebook: (name, object) for each name its cases take;
    None when a case takes the whole namespace (``env``). The objects themselves are kept, so that
    an identity test cannot be fooled by a freed object's reused ``id``."""
    names = {name for case in read_test_file(path).cases for name in case.params()}
    if "env" in names:
        return None
    return [(name, env.get(name)) for name in sorted(names)]


def _same_inputs(inputs: list | None, env: dict) -> bool:
    return inputs is not None and all(env.get(name) is obj for name, obj in inputs)


def _hidden_counts(lesson: str) -> dict[str, int]:
    """How many hidden test cases each question of ``lesson`` has (its autograder tests)."""
    folder = _lesson_dir(lesson) / "autograder"
    return {path.stem: sum(case.hidden for case in read_test_file(path).cases)
            for path in sorted(folder.glob("*.py"))}


def exercise_checker(lesson: str, strict: bool = False) -> ExerciseChecker:
    """The ``grader`` object a lesson notebook creates in its first cells."""
    return ExerciseChecker(lesson, strict=strict)
