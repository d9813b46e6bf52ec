"""Every lesson's predictions, and every unsolved answer, checked the same way.

A prediction's point is for committing to one before the reveal: any prediction written as a plain
value in the form asked passes, whatever the grading machine measures, and the check prints whether
the learner's own run agreed. Objects that compute their answer when compared are refused, and the
same normaliser reads ``"b"``, ``"B"``, ``"(b)"`` and ``"b."`` in every lesson.

Every answer cell of every student notebook, left as it is (``...``), gets one message that names
what to write, not one message per test case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from exercise_harness import failure_text, run_check, with_answer

from course_utils.exercises import lesson_names, normalize_choice

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def env(tiny_model_and_tokenizer):
    """What the lessons' experiments leave behind for their prediction checks."""
    model, tokenizer = tiny_model_and_tokenizer
    return {
        "forward_calls": [(5, 0), (1, 5), (1, 6), (1, 7), (1, 8)],  # 01: five calls
        "quick_batch": {1: 9.0, 4: 21.0, 16: 35.0},  # 01: 16 fastest
        "next_logits": torch.linspace(-4, 4, 50),  # 02
        "model": model, "tokenizer": tokenizer,  # 02: the greedy prediction re-runs generate()
        "plain_ov_config": {"PERFORMANCE_HINT": "LATENCY"},  # 06: "b"
        "default_compute": "<Type: 'bfloat16'>",  # 06: "b"
        "plain_valid": 4, "right_count": 1,  # 08: "b", "c"
    }


# lesson, question, variable, kind, the choices (letters, or the numbers allowed)
PREDICTIONS = [
    ("01_pipeline_basics", "predict_forward_calls", "predicted_forward_calls", "number", None),
    ("01_pipeline_basics", "predict_right_padding", "predicted_padding_letter", "letter", "abc"),
    ("01_pipeline_basics", "predict_best_batch_size", "predicted_best_batch_size", "number", (1, 4, 16)),
    ("02_generation_parameters", "predict_low_temperature", "predict_low_temperature", "letter", "abcd"),
    ("02_generation_parameters", "predict_top_p_temperature", "predict_top_p_temperature", "letter", "abc"),
    ("02_generation_parameters", "predict_greedy_samples", "predict_greedy_samples", "letter", "abc"),
    ("03_web_server", "predict_bad_input", "predicted_statuses", "numbers", None),
    ("03_web_server", "predict_health_wait", "health_prediction", "letter", "abc"),
    ("03_web_server", "predict_blocking_kinds", "blocking_kinds", "letters", "abc"),
    ("04_production_serving", "predict_one_lock", "one_lock_16", "letter", "abc"),
    ("04_production_serving", "predict_429", "refused_wait", "letter", "abc"),
    ("04_production_serving", "predict_kv", "kv_vs_weights", "letter", "abc"),
    ("05_langchain", "predict_echo", "predict_echo", "letter", "abcde"),
    ("05_langchain", "predict_stop", "predict_stop", "letter", "abcd"),
    ("05_langchain", "predict_template", "predict_template", "letter", "abcd"),
    ("06_openvino", "predict_int4_size", "predict_int4_size", "letter", "abcd"),
    ("06_openvino", "predict_ov_config", "predict_ov_config", "letter", "abcd"),
    ("06_openvino", "predict_compute", "predict_compute", "letter", "abc"),
    ("08_structured_output", "predict_plain_valid", "predict_plain_valid", "letter", "abc"),
    ("08_structured_output", "predict_right", "predict_right", "letter", "abc"),
]
IDS = [question for _, question, *_ in PREDICTIONS]

# Written as plain values of the form asked: every one is a commitment.
VALID = {
    "letter": lambda c: [repr(x) for x in c] + [repr(c[-1].upper()), f"' ({c[0]}) '", f"'{c[0]}.'",
                                                f"'{c[-1]})'"],
    "letters": lambda c: ['"a"', '"ab"', '"a, c"', '["a", "b"]', '("B",)', '""'],
    "number": lambda c: [str(x) for x in (c or (5, 3))] + [f"'{(c or (5,))[0]}'", f"{(c or (5,))[-1]}.0"],
    "numbers": lambda c: ["(500, 422)", "(422, 422)", "[200, '404']", "(500.0, 500)"],
}
# Not a prediction in the form asked (or not a plain value): refused, with what to write.
INVALID = {
    "letter": ["True", "2", '"z"', '"ab"', '["a"]', "Choice()", "Text('a')", "None"],
    "letters": ["True", '"az"', "[1, 2]", "Choice()", "None"],
    "number": ["True", '"five"', "[5]", "Choice()", "Number(5)", "None"],
    "numbers": ["500", "(500,)", "(500, 'ten')", "(True, 422)", "(99, 422)", "Choice()", "None"],
}
# Objects that answer every comparison with True, or compute a value when looked at.
TRICKS = '''
class Choice:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
class Text(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
class Number(int):
    pass
'''


def _run(env, lesson, question, source, capsys):
    result = run_check(lesson, question, with_answer(env, TRICKS + source))
    return result, capsys.readouterr().out


@pytest.mark.parametrize("lesson, question, name, kind, choices", PREDICTIONS, ids=IDS)
def test_any_committed_prediction_earns_the_point_and_is_told_how_it_went(
        env, lesson, question, name, kind, choices, capsys):
    verdicts = set()
    for value in VALID[kind](choices):
        result, out = _run(env, lesson, question, f"{name} = {value}", capsys)
        assert result.passed, f"{question}: the prediction {value} was refused:\n{failure_text(result)}"
        assert "1 point for predicting" in out, (question, value, out)
        verdicts.add("is what your run showed" in out)
        if "is what your run showed" not in out:
            assert "your run showed" in out, (question, value, out)
    assert verdicts == {True, False}, f"{question}: every prediction got the same verdict {verdicts}"


@pytest.mark.parametrize("lesson, question, name, kind, choices", PREDICTIONS, ids=IDS)
def test_a_prediction_not_in_the_form_asked_is_refused_with_what_to_write(
        env, lesson, question, name, kind, choices, capsys):
    for value in INVALID[kind]:
        result, _ = _run(env, lesson, question, f"{name} = {value}", capsys)
        assert not result.passed, f"{question}: {value} passed"
        text = failure_text(result)
        assert "write" in text or "use only" in text or "each number" in text, (question, value, text)
        assert len(result.failures()) == 1, (question, value, text)


def test_the_verdict_follows_the_learners_own_run(env, capsys):
    """Where the run differs (a machine where batch 4 was fastest), the verdict says so; the
    point does not change."""
    saturated = {**env, "quick_batch": {1: 9.0, 4: 30.0, 16: 24.0}}
    _, out = _run(saturated, "01_pipeline_basics", "predict_best_batch_size",
                  "predicted_best_batch_size = 4", capsys)
    assert "is what your run showed" in out, out
    result, out = _run(saturated, "01_pipeline_basics", "predict_best_batch_size",
                       "predicted_best_batch_size = 16", capsys)
    assert result.passed and "your run showed 4" in out, out


def test_one_normaliser_for_every_lesson():
    for written in ("b", "B", " (b) ", "b.", "b)", "[b]", "'b'"):
        assert normalize_choice(written) == "b", written
    assert normalize_choice("ab") == "ab"


# ---------------------------------------------------------------- unsolved answers: one message
def _student_answers():
    """(lesson, question, answer cell source) for every answer cell of every student notebook."""
    found = []
    for lesson in lesson_names():
        cells = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text())["cells"]
        sources = ["".join(c["source"]) for c in cells]
        for index, cell in enumerate(cells):
            if "otter_answer_cell" in cell["metadata"].get("tags", []):
                check = next(s for s in sources[index + 1:] if s.strip().startswith("grader.check("))
                found.append((lesson, check.strip()[len('grader.check("'):-2], sources[index]))
    return found


ANSWERS = _student_answers()


def test_every_lesson_has_answer_cells():
    assert {lesson for lesson, _, _ in ANSWERS} == set(lesson_names())


@pytest.mark.parametrize("lesson, question, source", ANSWERS, ids=[q for _, q, _ in ANSWERS])
def test_an_unsolved_answer_gets_one_message_saying_what_to_write(lesson, question, source):
    from pydantic import BaseModel  # lesson 03's answer cell builds on the lesson's import
    from transformers import LogitsProcessor  # and lesson 08's

    names = {"__name__": "__main__", "BaseModel": BaseModel, "LogitsProcessor": LogitsProcessor}
    env = with_answer(names, source)
    result = run_check(lesson, question, env)
    assert not result.passed, question
    assert len(result.failures()) == 1, f"{question}: {failure_text(result)}"
    text = failure_text(result)
    assert text.startswith("write `") and "first" in text, text
