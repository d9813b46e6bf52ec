"""Where one decoding step of the course's engine spends its time: transformers' forward, packed,
and the engine's own ``DecodeStep``.

``python -m course_utils.bench.step [--rows 1 16] [--threads N] [--dtype bfloat16]`` loads the
course model as the server does, puts ``rows`` requests in a running batch (``server/step.py``;
prompts of different lengths, so rows have padding as in a server's batch) and compares three ways
of decoding on the same weights: ``model(...)`` as loaded, ``model(...)`` on a copy after
``pack_linears`` (``server/packed.py``), and the engine's ``DecodeStep`` (``server/decode.py``,
what the server runs). First the forward passes of the three in turn, step by step, 60 steps each
(``compare_steps``: the machine's drift falls on all alike); then each way alone over 40 steps,
timed in parts (the forward pass ``Batch.decode``, the sampler ``Sampler.sample``, the hand-over
``Row.accept``) with PyTorch's profiler naming the heaviest operations (``profile_step``).
``--compiled`` adds the compiled one-row step (``server/compiled.py``; other rounding). It
checks that the three give the same logits (and how far the compiled step's are), and prints the
machine's bandwidth ceiling for one stream beside the step time: measured first
(``benchmark.bandwidth_ceiling``), and for one row again in turn with the steps (a sum over as many
bytes as the weights), since this host's bandwidth moves from minute to minute.
Run it on idle cores: another busy process changes every figure.
"""

from __future__ import annotations

import argparse
import statistics
import time

STEPS = 40
READ = "reading the weights' bytes once (the bound)"


def _batch(engine, rows: int):
    """A running batch of ``rows`` requests with the same prompt, prefilled and one step in."""
    from ..server.request import Channel, Request
    from ..server.sampling import SamplingParams
    from ..server.step import Batch, Row

    worker = engine._worker
    made = []
    for i in range(rows):  # prompts of different lengths: padding, as in a server's running batch
        prompt = engine.tokenizer.apply_chat_template(
            [{"role": "user", "content": "Tell me a long story about a cat" + " and a dog" * (i % 4)}],
            tokenize=False, add_generation_prompt=True)
        ids = engine.tokenizer(prompt)["input_ids"]
        made.append(Row(Request(list(ids), SamplingParams(max_new_tokens=10**6), Channel()),
                        engine.tokenizer, engine.model.device, worker.eos_ids, worker.special_ids))
    batch, logits = Batch.prefill(engine.model, made, worker.pad_id)
    batch.set_next(worker.sampler.sample(logits, [row.state for row in batch.rows]))
    return batch


def _one_step(engine, batch, times: dict | None = None, step=None, model=None):
    sampler = engine._worker.sampler
    started = time.perf_counter()
    logits = batch.decode(model if model is not None else engine.model, step)
    decoded = time.perf_counter()
    choices = sampler.sample(logits, [row.state for row in batch.rows])
    batch.set_next(choices)
    sampled = time.perf_counter()
    for row, choice in zip(batch.rows, choices, strict=True):
        row.accept(choice, sampled)
    if times is not None:
        for name, seconds in (("forward", decoded - started), ("sample", sampled - decoded),
                              ("accept", time.perf_counter() - sampled)):
            times.setdefault(name, []).append(seconds)
    return logits


def profile_step(engine, rows: int, steps: int = STEPS, top: int = 6, step=None, model=None) -> dict:
    """Median milliseconds of each part of a step, and the ``top`` operations by time per step.

    ``step``: a ``DecodeStep`` to decode with (None: ``model(...)``); ``model``: the model to decode
    with (default: the engine's). ``first_logits``: the logits of the first step, to compare ways
    of decoding."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        batch = _batch(engine, rows)
        first = _one_step(engine, batch, step=step, model=model)
        for _ in range(4):  # warm-up
            _one_step(engine, batch, step=step, model=model)
        times: dict = {}
        for _ in range(steps):
            _one_step(engine, batch, times, step, model)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                _one_step(engine, batch, step=step, model=model)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    ops = [(e.key, e.self_cpu_time_total / 10 / 1000, e.self_cpu_time_total / total, e.count // 10)
           for e in events[:top]]
    result = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {**result, "step": sum(result.values()), "steps": steps, "ops": ops, "first_logits": first}


def compare_steps(engine, rows: int, ways: dict, steps: int = 60, read_bytes: int = 0) -> dict:
    """Median milliseconds of the forward pass of a step for each way, the ways measured in turn:
    one step of each, then again, so that the machine's drift (on a shared host its speed changes
    from minute to minute) falls on all of them alike. ``ways``: label -> (model, ``DecodeStep`` or
    None). ``read_bytes``: also a sum over a tensor of that many bytes, in turn with the steps
    (``READ``): the time to read the weights once under the same drift, one stream's bound."""
    import torch

    data = torch.ones(read_bytes // 4, dtype=torch.float32) if read_bytes else None
    with torch.inference_mode():
        batches = {label: _batch(engine, rows) for label in ways}
        times: dict = {label: [] for label in [*ways, *([READ] if read_bytes else [])]}
        for i in range(steps + 5):  # the first 5: warm-up
            for label, (model, step) in ways.items():
                batch = batches[label]
                started = time.perf_counter()
                logits = batch.decode(model, step)
                if i >= 5:
                    times[label].append(time.perf_counter() - started)
                batch.last = logits.argmax(-1)
            if data is not None:
                started = time.perf_counter()
                data.sum()
                if i >= 5:
                    times[READ].append(time.perf_counter() - started)
    return {label: statistics.median(values) * 1000 for label, values in times.items()}


def report(label: str, rows: int, measured: dict) -> list[str]:
    lines = [f"{label}, {rows} row(s): step {measured['step']:.1f} ms = forward {measured['forward']:.1f}"
             f" + sampling {measured['sample']:.2f} + hand-over {measured['accept']:.2f} "
             f"(medians of {measured['steps']} steps; {rows * 1000 / measured['step']:.1f} tokens/s)"]
    for name, ms, share, calls in measured["ops"]:
        lines.append(f"    {name:<52} {ms:7.2f} ms per step ({share:4.0%}), {calls} calls")
    return lines


def main(argv: list[str] | None = None) -> int:
    import copy

    import torch

    from ..models import resolve_model
    from ..server.decode import DecodeStep
    from ..server.engine import Engine
    from ..server.packed import can_pack, pack_linears
    from .benchmark import bandwidth_ceiling

    parser = argparse.ArgumentParser(prog="python -m course_utils.bench.step",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16], help="batch sizes (default 1 16)")
    parser.add_argument("--threads", type=int, default=None, help="compute threads (default: every core)")
    parser.add_argument("--dtype", default="bfloat16", help="the model's dtype (default bfloat16)")
    parser.add_argument("--compiled", action="store_true",
                        help="also the compiled one-row step (server/compiled.py; about a minute to compile)")
    args = parser.parse_args(argv)
    model = resolve_model().path
    engine = Engine(model, dtype=getattr(torch, args.dtype), threads=args.threads, pack_weights=False,
                    prefix_cache_tokens=0, fast_decode=False)
    engine.close()  # this drives the model itself
    ceiling = bandwidth_ceiling(model, args.dtype, engine.threads)
    print(f"{model} in {args.dtype}, {engine.threads} compute threads; one stream's ceiling "
          f"{ceiling['ceiling_tok_s']:.0f} tokens/s ({1000 / ceiling['ceiling_tok_s']:.1f} ms per token: "
          f"{ceiling['weight_bytes'] / 1e6:.0f} MB of weights at {ceiling['read_gb_s']:.1f} GB/s)")
    ways = {"model(...), weights as loaded": (engine.model, None)}
    packed_model = copy.deepcopy(engine.model)
    packed = pack_linears(packed_model)
    if packed:
        ways[f"model(...), {packed} linear layers packed"] = (packed_model, None)
    else:
        print(f"nothing packed: {can_pack(engine.model) or 'no layer gave the same bits packed'}")
    why = DecodeStep.why_not(engine.model)
    if why is None:
        step = DecodeStep(engine.model)
        ways[f"DecodeStep ({step.fused} fused, {step.packed} packed of {step.projections} products)"] = (
            engine.model, step)
    else:
        print(f"no DecodeStep: {why}")
    if args.compiled and why is None:
        from ..server.compiled import CompiledStep

        compiled = CompiledStep(engine.model, step)
        if compiled.warm_up() is None:
            print(f"no compiled step: {compiled.why_not}")
        else:
            print(f"compiled the one-row step in {compiled.compile_s:.0f} s")
            ways["CompiledStep (one row compiled, more: DecodeStep)"] = (engine.model, compiled)
    best, read_ms = {}, None
    for rows in args.rows:
        print(f"\n{rows} row(s): the forward pass, the ways in turn step by step (medians of 60 steps):")
        medians = compare_steps(engine, rows, ways, read_bytes=ceiling["weight_bytes"] if rows == 1 else 0)
        first = next(iter(medians.values()))
        for label, ms in medians.items():
            print(f"    {label:<60} {ms:6.1f} ms  ({first / ms:.2f}x the first)")
        read_ms = medians.pop(READ, read_ms)
        best[rows] = min(medians.values())
        profiles = {label: profile_step(engine, rows, step=step, model=way_model)
                    for label, (way_model, step) in ways.items()}
        print("  each way profiled (one after another):")
        reference = next(iter(profiles.values()))["first_logits"]
        for label, measured in profiles.items():
            print("\n".join("    " + line for line in report(label, rows, measured)))
            got = measured["first_logits"]
            same = torch.equal(got, reference)
            print(f"    -> logits {'the same bits as the first' if same else 'DIFFERENT from the first'}"
                  + ("" if same else f" (at most {(got.float() - reference.float()).abs().max():.3g} apart, "
                     f"the same next token: {bool(torch.equal(got.argmax(-1), reference.argmax(-1)))})"))
    if 1 in best:
        print(f"\none stream, the fastest forward pass: {1000 / best[1]:.1f} tokens/s, "
              f"{1000 / best[1] / ceiling['ceiling_tok_s']:.0%} of the bandwidth ceiling measured first"
              + (f", {read_ms / best[1]:.0%} of the bound measured in turn ({read_ms:.1f} ms to read the "
                 f"weights' bytes, {ceiling['weight_bytes'] / read_ms / 1e6:.1f} GB/s)" if read_ms else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
