"""Choosing each row's next token with that row's own settings.

``SamplingParams`` is lesson 02's ``GenerationParams`` (same rules, ``course_utils.generation``)
plus what the server's APIs add: frequency and presence penalties, a logit bias, and how many
alternatives to report with each token's log-probability.

``Sampler.sample(logits, rows)`` picks one token per row of a batch. Each row may differ in every
setting: greedy or sampling, temperature, top-k, top-p, typical-p, penalties, logit bias and seed.
Rows that share their warper settings are warped together with transformers' own logits
warpers (``TemperatureLogitsWarper``, ``TopKLogitsWarper``, ``TopPLogitsWarper``,
``TypicalLogitsWarper``, ``RepetitionPenaltyLogitsProcessor``); what transformers has no
processor for (OpenAI's frequency and presence penalties, its logit bias) is written here, a few
lines each. Each sampling row draws from its own ``torch.Generator``, seeded with the request's
seed (or a random one, reported back like TGI does), so a seeded request gives the same answer
whatever it shares a batch with (up to the last bits of floating-point arithmetic).

Log-probabilities are the model's own (log-softmax of the raw logits, before penalties,
temperature and top-k/top-p), as vLLM reports them by default.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field

from ..generation import GenerationParams, InvalidGenerationParams, validate
from .grammar import Constraint, mask_tokens

MAX_TOP_LOGPROBS = 20  # OpenAI's limit for top_logprobs
MAX_LOGIT_BIAS = 100.0  # OpenAI: bias values from -100 to 100


@dataclass
class SamplingParams(GenerationParams):
    """``GenerationParams`` plus the server's per-request settings (``None``: not given)."""

    typical_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[int, float] = field(default_factory=dict)
    top_logprobs: int = 0  # alternatives to report with each token (OpenAI top_logprobs, TGI top_n_tokens)
    constraint: Constraint | None = None  # what the answer must match (``grammar.py``)


def validate_sampling(params: SamplingParams, *, vocab_size: int | None = None, **limits) -> SamplingParams:
    """Lesson 02's rules (``course_utils.generation.validate``), then the server's own."""
    params = validate(params, **limits)
    if params.typical_p is not None and not 0 < params.typical_p < 1:
        raise InvalidGenerationParams(
            f"`typical_p` must be > 0.0 and < 1.0, got {params.typical_p}", "typical_p"
        )
    for name in ("frequency_penalty", "presence_penalty"):
        value = getattr(params, name)
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
            raise InvalidGenerationParams(f"`{name}` must be a finite number, got {value!r}", name)
    if not 0 <= params.top_logprobs <= MAX_TOP_LOGPROBS:
        raise InvalidGenerationParams(
            f"`top_logprobs` must be between 0 and {MAX_TOP_LOGPROBS}, got {params.top_logprobs}",
            "top_logprobs",
        )
    for token_id, bias in params.logit_bias.items():
        if vocab_size is not None and not 0 <= token_id < vocab_size:
            raise InvalidGenerationParams(
                f"`logit_bias` names token {token_id}; token ids go from 0 to {vocab_size - 1}", "logit_bias"
            )
        if not -MAX_LOGIT_BIAS <= bias <= MAX_LOGIT_BIAS:
            raise InvalidGenerationParams(
                f"`logit_bias` values must be between -100 and 100, got {bias}", "logit_bias"
            )
    return dataclasses.replace(
        params,
        typical_p=_float(params.typical_p),
        frequency_penalty=_float(params.frequency_penalty),
        presence_penalty=_float(params.presence_penalty),
        logit_bias={int(k): float(v) for k, v in params.logit_bias.items()},
    )


def _float(value):
    return None if value is None else float(value)


# The settings the Sampler applies per row. A scheduler may only batch rows whose other settings
# are equal (``policy.compatibility_key``): a field added to SamplingParams and forgotten here
# then keeps mismatched requests apart instead of silently sharing one row's value.
PER_ROW = frozenset(
    {
        "max_new_tokens",
        "do_sample",
        "temperature",
        "top_k",
        "top_p",
        "typical_p",
        "repetition_penalty",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "stop",
        "seed",
        "top_logprobs",
        "num_return_sequences",
        "constraint",
    }
)


class RowState:
    """What sampling needs to remember about one row: its settings, its random generator, the
    token ids it has seen (repetition penalty) and how often it generated each (OpenAI penalties)."""

    def __init__(self, params: SamplingParams, prompt_ids: list[int], device, matcher=None) -> None:
        import torch

        self.params = params
        self.matcher = matcher  # the row's grammar (``grammar.Matcher``), or None
        self.sampling = params.sampling()
        self.seed = (
            params.seed if params.seed is not None else (random.getrandbits(63) if self.sampling else None)
        )
        self.generator = None
        if self.sampling:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(self.seed % (1 << 64))
        self.needs_history = (
            params.repetition_penalty not in (None, 1.0)
            or bool(params.frequency_penalty)
            or bool(params.presence_penalty)
        )
        self.seen = list(prompt_ids) if self.needs_history else []
        self.generated: dict[int, int] = {}
        self.warp_key = (
            (params.temperature, params.top_k, params.top_p, params.typical_p) if self.sampling else None
        )

    def record(self, token_id: int) -> None:
        if self.matcher is not None:
            self.matcher.accept(token_id)
        if self.needs_history:
            self.seen.append(token_id)
            self.generated[token_id] = self.generated.get(token_id, 0) + 1


@dataclass
class Choice:
    """The sampler's pick for one row."""

    id: int
    logprob: float
    top: list[tuple[int, float]]


class Sampler:
    """Picks the next token of every row, each with its own settings (see the module docstring)."""

    def sample(self, logits, rows: list[RowState]) -> list[Choice]:
        """``logits``: the last position's logits, one row per request (``[batch, vocab]``)."""
        import torch

        logits = logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        scores = self._penalised(logits, rows)
        matchers = {i: row.matcher for i, row in enumerate(rows) if row.matcher is not None}
        if matchers:  # structured output: the tokens a row's grammar forbids become -inf
            scores = scores.clone() if scores is logits else scores
            mask_tokens(scores, matchers)
        chosen = torch.empty(len(rows), dtype=torch.long, device=logits.device)
        greedy = [i for i, row in enumerate(rows) if not row.sampling]
        if greedy:
            index = torch.tensor(greedy, device=logits.device)
            chosen[index] = scores[index].argmax(dim=-1)
        groups: dict[tuple, list[int]] = {}
        for i, row in enumerate(rows):
            if row.sampling:
                groups.setdefault(row.warp_key, []).append(i)
        for key, members in groups.items():
            index = torch.tensor(members, device=logits.device)
            probs = torch.softmax(_warp(scores[index], *key), dim=-1)
            for j, i in enumerate(members):
                chosen[i] = torch.multinomial(probs[j], 1, generator=rows[i].generator)[0]
        picked = logprobs.gather(1, chosen[:, None])[:, 0]
        ids, values = chosen.tolist(), picked.tolist()
        choices = []
        for i, row in enumerate(rows):
            top = []
            if row.params.top_logprobs:
                best = logprobs[i].topk(row.params.top_logprobs)
                top = list(zip(best.indices.tolist(), best.values.tolist()))
            row.record(ids[i])
            choices.append(Choice(ids[i], values[i], top))
        return choices

    @staticmethod
    def _penalised(logits, rows: list[RowState]):
        """The logits after each row's repetition, frequency and presence penalties and logit bias."""
        import torch
        from transformers import RepetitionPenaltyLogitsProcessor

        if not any(row.needs_history or row.params.logit_bias for row in rows):
            return logits
        scores = logits.clone()
        for i, row in enumerate(rows):
            p = row.params
            if p.repetition_penalty not in (None, 1.0):
                seen = torch.tensor([row.seen], device=logits.device)
                scores[i : i + 1] = RepetitionPenaltyLogitsProcessor(p.repetition_penalty)(
                    seen, scores[i : i + 1]
                )
            if row.generated and (p.frequency_penalty or p.presence_penalty):
                # OpenAI's definition: logit - count * frequency_penalty - (count > 0) * presence_penalty
                ids = torch.tensor(list(row.generated), device=logits.device)
                counts = torch.tensor(list(row.generated.values()), dtype=scores.dtype, device=logits.device)
                scores[i, ids] -= counts * (p.frequency_penalty or 0.0) + (p.presence_penalty or 0.0)
            if p.logit_bias:
                ids = torch.tensor(list(p.logit_bias), device=logits.device)
                scores[i, ids] += torch.tensor(
                    list(p.logit_bias.values()), dtype=scores.dtype, device=logits.device
                )
        return scores


MIN_TEMPERATURE = 1e-4  # logits / 1e-4 stays finite in float32 for any real model


def _warp(scores, temperature, top_k, top_p, typical_p):
    """transformers' warpers, in the order ``generate()`` applies them."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, TypicalLogitsWarper

    if temperature is not None and temperature != 1.0:
        # A valid but tiny temperature (5e-324 is a float > 0) would make logits / T overflow to inf
        # and softmax to NaN. At MIN_TEMPERATURE the distribution is already all on the top token.
        scores = TemperatureLogitsWarper(max(temperature, MIN_TEMPERATURE))(None, scores)
    if top_k:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p is not None and top_p < 1.0:
        scores = TopPLogitsWarper(top_p)(None, scores)
    if typical_p is not None:
        scores = TypicalLogitsWarper(typical_p)(None, scores)
    return scores
