"""Compare inference backends on the same prompts: speed, time to first token, size, agreement.

Lesson 06 uses it to put PyTorch (fp32, bf16) and OpenVINO (fp32, int8, int4) side by side. Any
model with ``generate()`` works: a transformers model or optimum-intel's ``OVModelForCausalLM``.

- ``greedy_run(model, tokenizer, prompts)``: one prompt at a time, greedy, timed; the new token ids;
- ``agreement(reference, other)``: how far two sets of greedy outputs agree;
- ``folder_mb(path)``: size on disk.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .timing import count_new_tokens, timed_generate


@dataclass
class GreedyRun:
    """What ``greedy_run`` measured: per prompt, the new token ids and the time to first token."""

    ids: list[list[int]] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    total_s: float = 0.0
    new_tokens: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.total_s if self.total_s else 0.0

    @property
    def ttft_median_s(self) -> float:
        return statistics.median(self.ttft_s) if self.ttft_s else 0.0


def greedy_run(model, tokenizer, prompts: list[str], max_new_tokens: int = 48,
               chat: bool = True) -> GreedyRun:
    """Generate greedily for each prompt (batch 1, as one user talking to a local model).

    ``chat=True`` wraps each prompt as one user message in the tokenizer's chat template. Tokens
    per second = all new tokens / all generation time; the first prompt is not a warm-up, so warm
    the model up before timing (one short call is enough).
    """
    run = GreedyRun()
    eos = getattr(model.generation_config, "eos_token_id", None)
    for prompt in prompts:
        if chat:
            prompt = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                   tokenize=False, add_generation_prompt=True)
        new_ids, ttft, total = timed_generate(model, tokenizer, prompt, max_new_tokens)
        run.ttft_s.append(ttft)
        run.total_s += total
        run.new_tokens += count_new_tokens(new_ids, eos)
        run.ids.append(new_ids[0].tolist())
    return run


def agreement(reference: list[list[int]], other: list[list[int]]) -> dict:
    """How far ``other``'s greedy outputs agree with ``reference``'s, prompt by prompt.

    - ``same``: the share of prompts whose outputs are identical;
    - ``prefix``: the mean share of the reference's tokens produced before the first difference
      (1.0 when identical). Greedy decoding amplifies a tiny numeric change: once one token
      differs, everything after it usually differs too, so the prefix is what carries information.
    """
    if len(reference) != len(other):
        raise ValueError(f"compare outputs of the same prompts: {len(reference)} reference outputs, "
                         f"{len(other)} others")
    if not reference:
        raise ValueError("no outputs to compare")
    same, prefixes = 0, []
    for ref, oth in zip(reference, other):
        same += ref == oth
        matched = next((i for i, (a, b) in enumerate(zip(ref, oth)) if a != b), min(len(ref), len(oth)))
        prefixes.append(1.0 if ref == oth else matched / max(len(ref), 1))
    return {"same": same / len(reference), "prefix": sum(prefixes) / len(prefixes)}


def folder_mb(path: str | Path) -> float:
    """Size on disk of every file under ``path``, in MB (10**6 bytes)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such folder: {path}")
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6
