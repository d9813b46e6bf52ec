"""What the reference engine's two caches save on this machine, measured on the model itself.

    python -m course_utils.bench.cache [--model PATH] [--rows 16] [--context 70] [--steps 20] [--repeats 3]

- A decoding step of ``--rows`` rows after ``--context`` prompt tokens, with transformers'
  ``DynamicCache`` (which copies each layer's cache at every step) and with the engine's
  ``kvcache.GrowingLayer`` (which writes into room it keeps): median milliseconds per step.
- The prefill of ``--rows`` chat prompts (the load test's questions in the chat template), all
  computed, and with the prefix cache (``prefix.py``) holding one earlier prompt, so that what
  every chat prompt begins with is reused: median seconds per prefill.

The engine's docstrings and the README quote the figures of this command.
"""

from __future__ import annotations

import argparse
from ..timing import Spread, Timer, spread


def _ms(timer: Timer, skip: int) -> Spread:
    """The timer's runs after the first ``skip`` (warm-up), in milliseconds."""
    return spread([1000 * t for t in timer.times[skip:]], "ms")


def decoding_step_ms(model, rows: int, steps: int, growing: bool, context: int = 70) -> Spread:
    """One decoding step of ``rows`` rows after a ``context``-token prompt, in milliseconds."""
    import torch
    from transformers import DynamicCache

    from ..server.kvcache import new_cache

    torch.manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (rows, context), device=model.device)
    mask = torch.ones_like(ids)
    cache = new_cache(model) if growing else DynamicCache(config=model.config)
    timer = Timer()  # synchronises a GPU before reading the clock
    with torch.inference_mode():
        out = model(
            input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        last, position = out.logits[:, -1].argmax(-1), mask.sum(-1)
        for _ in range(steps + 2):  # two warm-up steps
            with timer:
                mask = torch.cat([mask, mask.new_ones(rows, 1)], dim=1)
                out = model(
                    input_ids=last[:, None],
                    attention_mask=mask,
                    position_ids=position[:, None],
                    past_key_values=cache,
                    use_cache=True,
                )
                last, position = out.logits[:, -1].argmax(-1), position + 1
    return _ms(timer, skip=2)


def prefill_s(model, tokenizer, rows: int, reuse: bool, repeats: int) -> tuple[Spread, int, int]:
    """The prefill of ``rows`` chat prompts in seconds, the prompts' length, and how many of
    their tokens the prefix cache gave (0 without ``reuse``)."""
    import torch

    from ..server.prefix import PrefixCache
    from ..server.request import Channel, Request
    from ..server.sampling import SamplingParams
    from ..server.step import Batch, Row
    from .loadtest import PROMPTS

    def ids(question: str) -> list[int]:
        chat = [{"role": "user", "content": question}]
        return tokenizer(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))[
            "input_ids"
        ]

    def row(question: str) -> Row:
        request = Request(ids(question), SamplingParams(max_new_tokens=1), Channel())
        return Row(request, tokenizer, model.device, eos_ids=set(), special_ids=set())

    questions = [PROMPTS[i % len(PROMPTS)] + f" ({i})" for i in range(rows)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    timer, reused = Timer(), 0
    with torch.inference_mode():
        for _ in range(repeats + 1):  # one warm-up
            prefixes = None
            if reuse:  # a fresh cache each time, holding one earlier prompt: only the shared start is reused
                prefixes = PrefixCache()
                Batch.prefill(model, [row("An earlier question.")], pad, prefixes)
            batch_rows = [row(q) for q in questions]
            with timer:
                Batch.prefill(model, batch_rows, pad, prefixes)
            reused = min(r.cached_tokens for r in batch_rows)
    return spread(timer.times[1:]), max(len(ids(q)) for q in questions), reused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.bench.cache", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", help="model folder (default: the course model)")
    parser.add_argument("--rows", type=int, default=16, help="rows in the batch (default 16)")
    parser.add_argument(
        "--context", type=int, default=70, help="prompt tokens before the timed steps (default 70)"
    )
    parser.add_argument("--steps", type=int, default=20, help="decoding steps timed (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="prefills timed (default 3)")
    args = parser.parse_args(argv)
    from ..device import pick_device, pick_dtype
    from ..models import load_model, load_tokenizer, resolve_model

    path = args.model or resolve_model().path
    device = pick_device()
    model = load_model(path, dtype=pick_dtype(device)).to(device).eval()
    tokenizer = load_tokenizer(path)
    plain = decoding_step_ms(model, args.rows, args.steps, growing=False, context=args.context)
    growing = decoding_step_ms(model, args.rows, args.steps, growing=True, context=args.context)
    print(
        f"decoding step, {args.rows} rows after {args.context} tokens: DynamicCache {plain}, "
        f"GrowingLayer {growing}: {plain.ratio(growing):.2f}x"
    )
    computed, length, _ = prefill_s(model, tokenizer, args.rows, reuse=False, repeats=args.repeats)
    reused, _, shared = prefill_s(model, tokenizer, args.rows, reuse=True, repeats=args.repeats)
    print(
        f"prefill of {args.rows} chat prompts of up to {length} tokens: all computed {computed}, "
        f"the first {shared} tokens of each from the prefix cache {reused}: {computed.ratio(reused):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
