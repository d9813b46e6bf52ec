"""Run a lesson's exercise checks directly, against answers written as source code (seconds each).

Each ``tests/test_exercises_NN.py`` builds the names a lesson's exercises use (the model, the
tokenizer, fakes) once, then, for every question, runs its full test file (public and hidden
cases, as the grader does) against answers that are wrong on purpose and answers that are right
in another way than the solution:

    result = run_check("01_pipeline_basics", "chat_reply", with_answer(env, '''
        def reply_text(output):
            return output[0]["generated_text"]
    '''))
    assert not result.passed and "last message" in failure_text(result)
"""

from __future__ import annotations

import contextlib
import textwrap

from course_utils import exercises
from course_utils.exercises import QuestionResult, _lesson_dir, run_question


def run_check(lesson: str, question: str, env: dict, *, include_hidden: bool = True) -> QuestionResult:
    """Run ``question``'s autograder tests (public and hidden) against ``env``."""
    path = _lesson_dir(lesson) / "autograder" / f"{question}.py"
    assert path.is_file(), f"no test file {path}: run `python -m course_utils.build {lesson}`"
    return run_question(path, env, include_hidden=include_hidden)


def with_answer(env: dict, source: str) -> dict:
    """A copy of ``env`` with ``source`` (an answer cell's code, any indentation) executed in it."""
    namespace = dict(env)
    exec(compile(textwrap.dedent(source), "<answer>", "exec"), namespace)
    return namespace


def failure_text(result: QuestionResult) -> str:
    """Every failed case's message, one per line (what the learner or the grade report shows)."""
    return "\n".join(case.message for case in result.failures())


@contextlib.contextmanager
def timeouts_scaled(factor: float):
    """Inside, a check's ``within(N, ...)`` gives up after ``N * factor`` s; its message still says N.

    For tests of answers that deadlock or never end: what they must show is that the check bounds
    the call and tells the learner why, and a fraction of the learner's timeout shows that as well
    as the whole of it (waiting out the real 10-25 s timeouts cost the suite about two minutes).
    Yields the list of the seconds each call asked for, so a test can still assert the learner's
    budget. The checks import ``within`` when they run, so replacing the module's name reaches them.
    """
    real = exercises.within
    asked: list[float] = []

    def scaled(seconds, fn, *args, hint: str = "", **kwargs):
        asked.append(seconds)
        waited = seconds * factor
        try:
            return real(waited, fn, *args, hint=hint, **kwargs)
        except exercises.CheckTimedOut as err:
            text = str(err).replace(f"within {waited:g} s", f"within {seconds:g} s", 1)
            raise exercises.CheckTimedOut(text) from None

    exercises.within = scaled
    try:
        yield asked
    finally:
        exercises.within = real
