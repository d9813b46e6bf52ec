"""Where one decoding step of the course's engine spends its time, before and after packing.

``python -m course_utils.bench.step [--rows 1 16] [--threads N] [--dtype bfloat16]`` loads the
course model as the server does, puts ``rows`` requests in a running batch (``server/step.py``)
and times, over 40 steps each: the model's forward pass (``Batch.decode``), the sampler
(``Sampler.sample``) and the hand-over of each token (``Row.accept``); then PyTorch's profiler
gives the operations that took the most time. It does this with the weights as loaded, then again
after ``pack_linears`` (``server/packed.py``) on the same model, and prints the machine's
bandwidth ceiling for one stream beside the step time (``benchmark.bandwidth_ceiling``). Run it
on idle cores: another busy process changes every figure.
"""

from __future__ import annotations

import argparse
import statistics
import time

STEPS = 40


def _batch(engine, rows: int):
    """A running batch of ``rows`` requests with the same prompt, prefilled and one step in."""
    from ..server.request import Channel, Request
    from ..server.sampling import SamplingParams
    from ..server.step import Batch, Row

    worker = engine._worker
    prompt = engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Tell me a long story about a cat."}], tokenize=False,
        add_generation_prompt=True)
    ids = engine.tokenizer(prompt)["input_ids"]
    made = [Row(Request(list(ids), SamplingParams(max_new_tokens=10**6), Channel()), engine.tokenizer,
                engine.model.device, worker.eos_ids, worker.special_ids) for _ in range(rows)]
    batch, logits = Batch.prefill(engine.model, made, worker.pad_id)
    batch.set_next(worker.sampler.sample(logits, [row.state for row in batch.rows]))
    return batch


def _one_step(engine, batch, times: dict | None = None) -> None:
    sampler = engine._worker.sampler
    started = time.perf_counter()
    logits = batch.decode(engine.model)
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


def profile_step(engine, rows: int, steps: int = STEPS, top: int = 6) -> dict:
    """Median milliseconds of each part of a step, and the ``top`` operations by time per step."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        batch = _batch(engine, rows)
        for _ in range(5):  # warm-up
            _one_step(engine, batch)
        times: dict = {}
        for _ in range(steps):
            _one_step(engine, batch, times)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                _one_step(engine, batch)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    ops = [(e.key, e.self_cpu_time_total / 10 / 1000, e.self_cpu_time_total / total, e.count // 10)
           for e in events[:top]]
    result = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {**result, "step": sum(result.values()), "steps": steps, "ops": ops}


def report(label: str, rows: int, measured: dict) -> list[str]:
    lines = [f"{label}, {rows} row(s): step {measured['step']:.1f} ms = forward {measured['forward']:.1f}"
             f" + sampling {measured['sample']:.2f} + hand-over {measured['accept']:.2f} "
             f"(medians of {measured['steps']} steps; {rows * 1000 / measured['step']:.1f} tokens/s)"]
    for name, ms, share, calls in measured["ops"]:
        lines.append(f"    {name:<52} {ms:7.2f} ms per step ({share:4.0%}), {calls} calls")
    return lines


def main(argv: list[str] | None = None) -> int:
    import torch

    from ..models import resolve_model
    from ..server.engine import Engine
    from ..server.packed import can_pack, pack_linears
    from .benchmark import bandwidth_ceiling

    parser = argparse.ArgumentParser(prog="python -m course_utils.bench.step",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16], help="batch sizes (default 1 16)")
    parser.add_argument("--threads", type=int, default=None, help="compute threads (default: every core)")
    parser.add_argument("--dtype", default="bfloat16", help="the model's dtype (default bfloat16)")
    args = parser.parse_args(argv)
    model = resolve_model().path
    engine = Engine(model, dtype=getattr(torch, args.dtype), threads=args.threads, pack_weights=False,
                    prefix_cache_tokens=0)
    engine.close()  # this drives the model itself
    ceiling = bandwidth_ceiling(model, args.dtype, engine.threads)
    print(f"{model} in {args.dtype}, {engine.threads} compute threads; one stream's ceiling "
          f"{ceiling['ceiling_tok_s']:.0f} tokens/s ({1000 / ceiling['ceiling_tok_s']:.1f} ms per token: "
          f"{ceiling['weight_bytes'] / 1e6:.0f} MB of weights at {ceiling['read_gb_s']:.1f} GB/s)")
    before = {rows: profile_step(engine, rows) for rows in args.rows}
    packed = pack_linears(engine.model)
    after = {rows: profile_step(engine, rows) for rows in args.rows} if packed else {}
    for rows in args.rows:
        print("\n".join(report("weights as loaded", rows, before[rows])))
        if packed:
            print("\n".join(report(f"{packed} linear layers packed", rows, after[rows])))
            print(f"-> packing: {before[rows]['step'] / after[rows]['step']:.2f}x faster per step")
    if not packed:
        print(f"nothing packed: {can_pack(engine.model) or 'no layer gave the same bits packed'}")
    if 1 in args.rows:
        best = after.get(1, before[1])["step"]
        print(f"one stream: {1000 / best:.1f} tokens/s, {1000 / best / ceiling['ceiling_tok_s']:.0%} of the "
              "bandwidth ceiling")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
