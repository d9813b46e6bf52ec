"""Timing that is right on CPU and GPU: ``Timer``, ``benchmark`` and generation measurements.

GPU work is asynchronous: without ``torch.cuda.synchronize()`` before reading the clock you time
the kernel launch, not the work. ``Timer`` synchronises for you, and ``benchmark`` warms up first
(the first call pays for memory allocation and kernel selection).

A timing that carries a conclusion is a median of several runs, shown with its spread:
``spread(values)`` (or ``timer.spread()``) gives a ``Spread`` that prints as
``0.123 s (0.118-0.131, 5 runs)``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements, with the lowest and highest, and how many there were."""

    median: float
    low: float
    high: float
    runs: int
    unit: str = "s"

    def __str__(self) -> str:
        if self.runs == 1:
            return f"{self.median:.3g} {self.unit} (1 run)"
        return f"{self.median:.3g} {self.unit} ({self.low:.3g}-{self.high:.3g}, {self.runs} runs)"

    def ratio(self, other: Spread) -> float:
        """How many times ``other``'s median this median is (e.g. a speed-up)."""
        return self.median / other.median if other.median else float("nan")


def spread(values, unit: str = "s") -> Spread:
    """Median, lowest and highest of ``values`` (at least one)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("spread() needs at least one value")
    return Spread(statistics.median(values), min(values), max(values), len(values), unit)


class Timer:
    """Record several running times (d2l's Timer), also usable as a context manager.

    >>> timer = Timer()
    >>> with timer:
    ...     pass
    >>> len(timer.times)
    1
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start: float | None = None

    def start(self) -> None:
        _sync()
        self._start = time.perf_counter()

    def stop(self) -> float:
        if self._start is None:
            raise RuntimeError("Timer.stop() called before Timer.start()")
        _sync()
        self.times.append(time.perf_counter() - self._start)
        self._start = None
        return self.times[-1]

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def last(self) -> float:
        return self.times[-1]

    def avg(self) -> float:
        return sum(self.times) / len(self.times)

    def median(self) -> float:
        return statistics.median(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def spread(self) -> Spread:
        """Median, lowest and highest of the recorded times."""
        return spread(self.times)


def benchmark(fn, *, warmup: int = 1, repeat: int = 3, desc: str | None = None) -> float:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeat`` times timed; return the median seconds."""
    for _ in range(warmup):
        fn()
    timer = Timer()
    for _ in range(repeat):
        with timer:
            fn()
    if desc:
        print(f"{desc}: {timer.spread()}")
    return timer.median()


@dataclass
class GenerationStats:
    """One generation run: time to first token, new tokens, total time and throughput."""

    ttft_s: float
    new_tokens: int
    total_s: float

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.total_s if self.total_s > 0 else float("nan")

    def as_row(self, **extra) -> dict:
        return {**extra, **asdict(self), "tokens_per_s": round(self.tokens_per_s, 1)}


class _FirstTokenClock:
    """A minimal generate() streamer that notes when the first new token arrives.

    generate() calls ``put`` once with the prompt, then once per new token (or per step of a batch).
    transformers' own streamers decode text; we only need the clock, so this one is written by hand.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.first_token_at: float | None = None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.first_token_at is None:
            _sync()
            self.first_token_at = time.perf_counter()

    def end(self) -> None:
        pass


def count_new_tokens(new_ids: torch.Tensor, eos_token_id: int | list[int] | None) -> int:
    """Tokens generated per row up to and including the first end-of-sequence token, summed."""
    if new_ids.dim() == 1:
        new_ids = new_ids.unsqueeze(0)
    if eos_token_id is None:
        return new_ids.numel()
    eos = torch.tensor(eos_token_id if isinstance(eos_token_id, list) else [eos_token_id])
    total = 0
    for row in new_ids:
        hits = torch.isin(row.cpu(), eos).nonzero()
        total += int(hits[0]) + 1 if len(hits) else len(row)
    return total


def timed_generate(model, tokenizer, prompts: str | list[str], max_new_tokens: int = 32,
                   **generate_kwargs) -> tuple[torch.Tensor, float, float]:
    """Run ``model.generate`` once on ``prompts`` (a batch when a list) and time it.

    Returns the new token ids (one row per prompt), the time to the first new token and the
    total time, in seconds. Greedy unless ``generate_kwargs`` say otherwise; batched prompts are
    left-padded (the tokenizer itself is not changed). Any model with ``generate()`` works.
    """
    batch = [prompts] if isinstance(prompts, str) else list(prompts)
    if len(batch) > 1 and tokenizer.pad_token is None:
        raise ValueError("Batching needs a pad token: set tokenizer.pad_token = tokenizer.eos_token")
    # Left padding for this call only: the caller's tokenizer keeps its own padding_side.
    inputs = tokenizer(batch, return_tensors="pt", padding=True, padding_side="left").to(model.device)
    clock = _FirstTokenClock()
    generate_kwargs.setdefault("do_sample", False)
    with torch.inference_mode():
        _sync()
        start = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, streamer=clock,
                             pad_token_id=tokenizer.pad_token_id, **generate_kwargs)
        _sync()
        total = time.perf_counter() - start
    first = clock.first_token_at if clock.first_token_at is not None else start + total
    return out[:, inputs["input_ids"].shape[1]:], first - start, total


def measure_generation(model, tokenizer, prompts: str | list[str], max_new_tokens: int = 32,
                       **generate_kwargs) -> GenerationStats:
    """Run ``model.generate`` once on ``prompts`` (a batch when a list) and time it.

    Greedy unless ``generate_kwargs`` say otherwise; batched prompts are left-padded (the
    tokenizer itself is not changed).
    """
    new_ids, ttft, total = timed_generate(model, tokenizer, prompts, max_new_tokens,
                                          **generate_kwargs)
    return GenerationStats(
        ttft_s=round(ttft, 4),
        new_tokens=count_new_tokens(new_ids, model.generation_config.eos_token_id),
        total_s=round(total, 4),
    )


def benchmark_generation(model, tokenizer, prompts: list[str], *, batch_sizes=(1,),
                         max_new_tokens: int = 32, warmup: bool = True, **generate_kwargs):
    """Generate ``prompts`` in batches of each size; return a table (pandas DataFrame).

    Each row: batch size, time to first token (first batch), new tokens, total time, tokens/s.
    ``min_new_tokens`` defaults to ``max_new_tokens`` so every row does the same amount of work.
    """
    import pandas as pd

    generate_kwargs.setdefault("min_new_tokens", max_new_tokens)
    if warmup:
        measure_generation(model, tokenizer, prompts[0], max_new_tokens=2)
    rows = []
    for size in batch_sizes:
        stats = [measure_generation(model, tokenizer, prompts[i:i + size], max_new_tokens,
                                    **generate_kwargs)
                 for i in range(0, len(prompts), size)]
        total = GenerationStats(ttft_s=stats[0].ttft_s,
                                new_tokens=sum(s.new_tokens for s in stats),
                                total_s=round(sum(s.total_s for s in stats), 4))
        rows.append(total.as_row(batch_size=size))
    return pd.DataFrame(rows)


def plot_benchmark(table, x: str = "batch_size", y: str = "tokens_per_s", ax=None, label=None,
                   title: str | None = None):
    """A line plot of one benchmark column against another; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(table[x], table[y], marker="o", label=label)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " ").replace("per s", "/ s"))
    if x == "batch_size":
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(table[x]), [str(v) for v in table[x]])
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax
