"""``course_utils.exercises``: what check cells run. Each lesson's own checks are tried with wrong
and right answers in ``tests/test_exercises_NN.py``."""

import subprocess
import sys
import textwrap

import pytest

from course_utils.exercises import (
    CheckTimedOut,
    GRADING_ENV,
    ExerciseChecker,
    _lesson_dir,
    answered,
    lesson_names,
    read_test_file,
    run_question,
    within,
)

LESSON = "04_production_serving"  # its pick_config check is a pure function: quick to try


def _fastest(rows, max_p95_s):
    fine = [r for r in rows if r["errors"] == 0 and r["latency_p95_s"] is not None
            and r["latency_p95_s"] <= max_p95_s]
    return max(fine, key=lambda r: r["tokens_per_s"])["server"] if fine else None


def test_every_lesson_has_checks():
    assert LESSON in lesson_names() and "01_pipeline_basics" in lesson_names()


def test_check_reports_without_stopping():
    checker = ExerciseChecker(LESSON)
    result = checker.check("pick_config", global_env={"pick_config": lambda rows, limit: rows[0]})
    assert not result.passed
    assert "return the row's `server` (a string), not the row" in repr(result)


def test_check_passes_a_right_answer():
    assert ExerciseChecker(LESSON).check("pick_config", global_env={"pick_config": _fastest}).passed


def test_check_all_shows_what_failed(capsys):
    env = {"grader": ExerciseChecker(LESSON), "pick_config": lambda rows, limit: rows[0]}
    exec("grader.check_all()", env)  # as a notebook's last cell: the answers are its globals
    printed = capsys.readouterr().out
    assert "return the row's `server` (a string), not the row" in printed  # the message, not a count


def test_strict_checks_raise(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    checker = ExerciseChecker(LESSON)
    with pytest.raises(AssertionError, match="pick_config"):
        checker.check("pick_config", global_env={"pick_config": lambda rows, limit: None})


def test_strict_check_all_does_not_run_a_passed_check_again_on_the_same_objects(monkeypatch):
    from course_utils import exercises

    runs = []
    real = exercises.run_question
    monkeypatch.setattr(exercises, "run_question",
                        lambda path, *a, **k: runs.append(path.stem) or real(path, *a, **k))

    def check_all(env):
        runs.clear()
        with pytest.raises(AssertionError, match="some checks failed"):  # the other questions: unanswered
            exec("grader.check_all()", env)
        return runs.count("pick_config")

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    env = {"grader": ExerciseChecker(LESSON), "pick_config": _fastest}
    assert env["grader"].check("pick_config", global_env=env).passed
    assert check_all(env) == 0, "the check that just passed, on the same function, ran again"
    assert len(runs) == len(env["grader"].questions()) - 1, "every other question still runs"
    env["pick_config"] = lambda rows, limit: _fastest(rows, limit)  # the cell run again: a new object
    assert check_all(env) == 1, "an answer redefined since its check must be checked again"
    monkeypatch.delenv("COURSE_STRICT_CHECKS")
    learner = {"grader": ExerciseChecker(LESSON), "pick_config": _fastest}
    learner["grader"].check("pick_config", global_env=learner)
    runs.clear()
    exec("grader.check_all()", learner)
    assert runs.count("pick_config") == 1, "a learner's check_all runs every check"


def test_hidden_checks_run_in_check_cells_only_when_asked(monkeypatch):
    """CI's end-to-end run of the solutions sets COURSE_HIDDEN_CHECKS=1: every test runs there."""
    answer = {"pick_config": _fastest}
    assert not any(c.hidden for c in ExerciseChecker(LESSON).check("pick_config", global_env=answer).cases)
    monkeypatch.setenv("COURSE_HIDDEN_CHECKS", "1")
    result = ExerciseChecker(LESSON).check("pick_config", global_env=answer)
    assert result.passed and any(c.hidden for c in result.cases)
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="pick_config"):
        ExerciseChecker(LESSON).check("pick_config", global_env={"pick_config": lambda rows, limit: None})


def test_check_cells_do_nothing_while_grading(monkeypatch):
    monkeypatch.setenv(GRADING_ENV, "1")
    assert ExerciseChecker(LESSON).check("pick_config", global_env={}) is None


def test_unknown_lesson_names_the_fix():
    with pytest.raises(ValueError, match="course_utils.build"):
        ExerciseChecker("99_nothing")


def test_a_missing_name_says_which_cell_to_run():
    result = ExerciseChecker(LESSON).check("pick_config", global_env={})
    assert "`pick_config` is not defined: run the cell that defines it" in repr(result)


@pytest.mark.parametrize("lesson", lesson_names())
def test_test_files_are_read_as_otter_reads_them(lesson):
    """``read_test_file`` (no otter import) agrees with otter's own parser on every test file."""
    from otter.test_files.exception_test import ExceptionTestFile

    for path in sorted(_lesson_dir(lesson).glob("*/*.py")):
        ours, otters = read_test_file(path), ExceptionTestFile.from_file(str(path))
        assert (ours.name, [(c.name, c.hidden) for c in ours.cases]) == (
            otters.name, [(c.name, c.hidden) for c in otters.test_cases]), path
        assert ours.points == pytest.approx(sum(c.points or 0 for c in otters.test_cases)), path


def test_checks_do_not_import_otter():
    code = ("import sys; from course_utils.exercises import ExerciseChecker; "
            f"ExerciseChecker({LESSON!r}).check('pick_config', global_env={{}}); "
            "print('otter' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr[-500:]


def test_an_interrupt_stops_the_question(tmp_path):
    """The grader interrupts a hung question: that case fails, the rest are not run."""
    path = tmp_path / "q.py"
    path.write_text(textwrap.dedent('''\
        from otter.test_files import test_case
        name = "q"
        points = 1

        @test_case(points=None, hidden=False)
        def test_first(f):
            f()

        @test_case(points=None, hidden=True)
        def test_second(f):
            assert False, "never reached"
        '''))

    def interrupted():
        raise KeyboardInterrupt

    result = run_question(path, {"f": interrupted})
    assert [(c.passed, c.message) for c in result.cases] == [
        (False, "stopped: the check took too long (an endless loop?)"),
        (False, "not run: an earlier check of this question was stopped")]
    assert run_question(path, {"f": lambda: None}, include_hidden=False).passed


def test_within_fails_with_the_hint_instead_of_hanging():
    import threading

    never = threading.Event()
    with pytest.raises(AssertionError, match="no answer within 0.2 s: is a lock held"):
        within(0.2, never.wait, hint="is a lock held across an await?")
    assert within(1, lambda x: x + 1, 1) == 2


def test_a_blocked_thread_gets_its_pending_stop_taken_back():
    """A thread blocked in C cannot take the stop; it must not stay pending (CPython then makes
    every thread check for it, which slowed the whole suite about five times)."""
    import threading
    import time

    from course_utils.exercises import _stop_thread

    gate, outcome = threading.Event(), []

    def blocked():
        try:
            gate.wait()  # blocked in C: the stop cannot be raised here
            sum(range(10_000))  # Python again: a pending stop would be raised now
            outcome.append("went on")
        except BaseException as err:  # noqa: BLE001
            outcome.append(type(err).__name__)

    thread = threading.Thread(target=blocked, daemon=True)
    thread.start()
    _stop_thread(thread, grace=0.2)
    deadline = time.monotonic() + 10
    while any(t.name.startswith("check:") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the take-back and its helper finish
    gate.set()
    thread.join(5)
    assert outcome == ["went on"], outcome
    def endless():
        try:
            while True:
                pass
        except BaseException as err:  # noqa: BLE001
            outcome.append(type(err).__name__)

    looping = threading.Thread(target=endless, daemon=True)
    looping.start()
    _stop_thread(looping)
    looping.join(5)
    assert not looping.is_alive() and outcome[-1] == "CheckTimedOut", "a pure-Python endless loop is stopped"


def test_answered_tells_an_unsolved_cell():
    def stub():
        ...

    def solved():
        return 1

    assert not answered(...) and not answered(None) and not answered(stub)
    assert answered(solved) and answered(0) and answered("")


def test_within_stops_an_endless_loop_it_gave_up_on():
    import threading
    import time

    def spin():
        while True:
            pass

    with pytest.raises(CheckTimedOut, match="no answer within 0.2 s: loops"):
        within(0.2, spin, hint="loops")
    for _ in range(100):  # the abandoned thread gets CheckTimedOut at its next instruction
        if not any(t.name == "check:spin" for t in threading.enumerate()):
            break
        time.sleep(0.02)
    assert not any(t.name == "check:spin" for t in threading.enumerate()), "the endless loop still runs"
