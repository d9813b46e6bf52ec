import time

import pytest
import torch

from course_utils.timing import (
    GenerationStats,
    Timer,
    benchmark,
    benchmark_generation,
    count_new_tokens,
    measure_generation,
    plot_benchmark,
)


def test_timer_records_each_interval():
    timer = Timer()
    with timer:
        time.sleep(0.02)
    timer.start()
    time.sleep(0.01)
    timer.stop()
    assert len(timer.times) == 2
    assert timer.times[0] >= 0.02 and timer.times[1] >= 0.01
    assert timer.sum() == pytest.approx(sum(timer.times))
    assert timer.avg() == pytest.approx(timer.sum() / 2)


def test_timer_stop_without_start_is_an_error():
    with pytest.raises(RuntimeError, match="before Timer.start"):
        Timer().stop()


def test_benchmark_warms_up_then_repeats():
    calls = []
    median = benchmark(lambda: calls.append(1), warmup=2, repeat=5)
    assert len(calls) == 7
    assert median >= 0


def test_count_new_tokens_stops_at_eos():
    new = torch.tensor([[5, 6, 2, 2, 2], [7, 8, 9, 10, 11]])
    assert count_new_tokens(new, eos_token_id=2) == 3 + 5
    assert count_new_tokens(new, eos_token_id=[2, 11]) == 3 + 5
    assert count_new_tokens(new[1], eos_token_id=None) == 5


def test_stats_throughput():
    stats = GenerationStats(ttft_s=0.1, new_tokens=50, total_s=2.0)
    assert stats.tokens_per_s == 25
    assert stats.as_row(batch_size=4)["batch_size"] == 4


def test_measure_generation_counts_and_times(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    stats = measure_generation(model, tokenizer, ["Hello", "A longer prompt here"],
                               max_new_tokens=6, min_new_tokens=6)
    assert stats.new_tokens == 12
    assert 0 < stats.ttft_s <= stats.total_s


def test_benchmark_generation_table_and_plot(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    prompts = [f"Prompt number {i}" for i in range(4)]
    table = benchmark_generation(model, tokenizer, prompts, batch_sizes=(1, 4), max_new_tokens=3)
    assert list(table["batch_size"]) == [1, 4]
    assert list(table["new_tokens"]) == [12, 12]
    assert (table["tokens_per_s"] > 0).all()
    ax = plot_benchmark(table)
    assert ax.get_xlabel() == "batch size" and len(ax.lines) == 1


def test_measure_generation_leaves_the_tokenizer_alone(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir, padding_side="right")
    stats = measure_generation(model, tokenizer, ["Hi", "A longer prompt"], max_new_tokens=2,
                               min_new_tokens=2)
    assert stats.new_tokens == 4
    assert tokenizer.padding_side == "right"
