"""course_utils.compare: greedy runs, agreement between backends, size on disk."""

import pytest

from course_utils.compare import agreement, folder_mb, greedy_run
from course_utils.models import load_model, load_tokenizer, tiny_model_path


def test_agreement_counts_identical_outputs_and_prefixes():
    reference = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 9]]
    other = [[1, 2, 3, 4], [5, 6, 0, 8], [0, 9]]
    found = agreement(reference, other)
    assert found["same"] == pytest.approx(1 / 3)
    assert found["prefix"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_agreement_of_a_shorter_output_stops_at_its_end():
    assert agreement([[1, 2, 3, 4]], [[1, 2]]) == {"same": 0.0, "prefix": 0.5}


def test_agreement_needs_the_same_prompts():
    with pytest.raises(ValueError, match="same prompts"):
        agreement([[1]], [[1], [2]])
    with pytest.raises(ValueError, match="no outputs"):
        agreement([], [])


def test_folder_mb_sums_every_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"x" * 1_500_000)
    (tmp_path / "sub" / "b.bin").write_bytes(b"x" * 500_000)
    assert folder_mb(tmp_path) == pytest.approx(2.0)
    with pytest.raises(FileNotFoundError, match="No such folder"):
        folder_mb(tmp_path / "missing")


def test_greedy_run_is_repeatable_and_agrees_with_itself():
    path = str(tiny_model_path())
    model, tokenizer = load_model(path), load_tokenizer(path)
    prompts = ["Hello there", "What is two plus two?"]
    first = greedy_run(model, tokenizer, prompts, max_new_tokens=6)
    again = greedy_run(model, tokenizer, prompts, max_new_tokens=6)
    assert len(first.ids) == 2 and all(1 <= len(ids) <= 6 for ids in first.ids)
    assert first.ids == again.ids
    assert agreement(first.ids, again.ids) == {"same": 1.0, "prefix": 1.0}
    assert 0 < first.new_tokens <= 12 and first.tokens_per_s > 0
    assert all(0 < t <= first.total_s for t in first.ttft_s)


def test_greedy_run_tells_two_models_apart():
    tiny = str(tiny_model_path())
    tokenizer = load_tokenizer(tiny)  # the real SmolLM2 tokenizer, shared by both models
    prompts = ["Hello there", "Name a colour"]
    random_weights = greedy_run(load_model(tiny), tokenizer, prompts, max_new_tokens=6)
    real = greedy_run(load_model(), tokenizer, prompts, max_new_tokens=6)
    assert agreement(random_weights.ids, real.ids)["same"] < 1.0
