"""The exercise checks and the grader discriminate: full marks, zero, and exactly one lost question.

Grading executes the whole notebook with the real model (about a minute per lesson here).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.exercises import ExerciseChecker, lesson_names
from course_utils.grade import grade_notebook

ROOT = Path(__file__).resolve().parent.parent
LESSON = "01_pipeline_basics"  # used by the fast checker tests below
# For each lesson: one answer made wrong on purpose (cell start, right line, wrong line), the
# question that must lose its points, and the score that remains.
WRONG_ANSWERS = {
    "01_pipeline_basics": ("def reply_text", '    return output[0]["generated_text"][-1]["content"]',
                           '    return output[0]["generated_text"]', "chat_reply", "score: 3/4"),
    "02_generation_parameters": ("def softmax_with_temperature",
                                 "    return torch.softmax(logits / temperature, dim=-1)",
                                 "    return torch.softmax(logits, dim=-1)", "temperature_softmax",
                                 "score: 3/4"),
    "03_web_server": ("def add_safe_errors",
                      '        return JSONResponse({"error": "Internal server error"}, status_code=500)',
                      '        return JSONResponse({"error": str(exc)}, status_code=500)', "safe_errors",
                      "score: 3/4"),
    "04_production_serving": ("def kv_cache_bytes",
                              "    return 2 * config.num_hidden_layers * kv_heads * head_dim * tokens * batch"
                              " * bytes_per_value",
                              "    return config.num_hidden_layers * kv_heads * head_dim * tokens * batch"
                              " * bytes_per_value", "kv_cache", "score: 3/4"),
    "05_langchain": ("def answer_all",
                     "    return [answer.strip() for answer in chain.batch("
                     '[{"question": q} for q in questions])]',
                     '    return [chain.invoke({"question": q}).strip() for q in questions]', "answer_all",
                     "score: 3/4"),
    "06_openvino": ("def best_variant",
                    '    good = table[table["prefix_agreement"] >= min_prefix_agreement]',
                    '    good = table[table["prefix_agreement"] > min_prefix_agreement]', "best_variant",
                    "score: 3/4"),
}
GRADED = sorted(WRONG_ANSWERS)


def _notebook(lesson, kind):
    return ROOT / "notebooks" / ("solutions" if kind == "solutions" else "") / f"{lesson}.ipynb"


def _reply_output(text):
    return [{"generated_text": [{"role": "user", "content": "q"},
                                {"role": "assistant", "content": text}]}]


def test_every_lesson_has_checks():
    assert LESSON in lesson_names()


def test_check_reports_without_stopping():
    checker = ExerciseChecker(LESSON)
    env = {"reply_text": lambda output: "wrong", "generator": lambda *a, **k: _reply_output("x")}
    result = checker.check("chat_reply", global_env=env)
    assert not result.passed
    assert "the reply is the content of the last message" in repr(result)


def test_check_passes_a_right_answer():
    checker = ExerciseChecker(LESSON)
    env = {"reply_text": lambda output: output[0]["generated_text"][-1]["content"],
           "generator": lambda *a, **k: _reply_output("four")}
    assert checker.check("chat_reply", global_env=env).passed


def test_strict_checks_raise(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    checker = ExerciseChecker(LESSON)
    with pytest.raises(AssertionError, match="chat_reply"):
        checker.check("chat_reply", global_env={"reply_text": lambda output: None,
                                                "generator": lambda *a, **k: _reply_output("x")})


def test_unknown_lesson_names_the_fix():
    with pytest.raises(ValueError, match="course_utils.build"):
        ExerciseChecker("99_nothing")


def _points(results):
    return {name: (r.score, r.possible) for name, r in results.results.items()}


def test_every_lesson_is_graded_here():
    assert GRADED == lesson_names(), "add the new lesson to WRONG_ANSWERS"


@pytest.mark.parametrize("lesson", GRADED)
def test_solutions_score_full_marks(lesson):
    results = grade_notebook(_notebook(lesson, "solutions"))
    assert results.possible >= 4
    assert results.total == results.possible, _points(results)


@pytest.mark.parametrize("lesson", GRADED)
def test_unsolved_student_notebook_scores_zero(lesson):
    results = grade_notebook(_notebook(lesson, "student"))
    assert results.possible >= 4
    assert results.total == 0, _points(results)


@pytest.mark.parametrize("lesson", GRADED)
def test_one_wrong_answer_loses_exactly_its_points(lesson, tmp_path):
    start, right, wrong_line, question, score = WRONG_ANSWERS[lesson]
    nb = json.loads(_notebook(lesson, "solutions").read_text())
    cell = next(c for c in nb["cells"] if "".join(c["source"]).startswith(start))
    source = "".join(cell["source"])
    cell["source"] = source.replace(right, wrong_line)
    assert cell["source"] != source, f"{right!r} not found in the solutions notebook"
    wrong = tmp_path / "submission.ipynb"
    wrong.write_text(json.dumps(nb))

    done = subprocess.run([sys.executable, "-m", "course_utils.grade", str(wrong)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    scores = dict(line.split(": ", 1) for line in lines)
    assert scores[question].startswith("0/1"), lines
    others = [name for name in scores if name not in (question, "score")]
    assert len(others) >= 3 and all(scores[name] == "1/1" for name in others), lines
    assert lines[-1] == score


def test_grade_cli_rejects_a_missing_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "course_utils.grade", str(tmp_path / "none.ipynb")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "No notebook at" in done.stderr and "Traceback" not in done.stderr
