"""``python -m course_utils.server``: serve the course model (``--help`` lists the options)."""

from __future__ import annotations

import argparse
import logging
import os
import time

from .auth import exposure_warning
from .engine import MAX_NEW_TOKENS_LIMIT, SCHEDULERS
from .prefix import DEFAULT_MAX_TOKENS as DEFAULT_PREFIX_CACHE_TOKENS
from .limits import MAX_BODY_BYTES

log = logging.getLogger("course_utils.server")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_utils.server",
        description="Serve the course model over HTTP (TGI and OpenAI APIs).",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", help="model folder or hub id (default: the course model)")
    p.add_argument("--naive", action="store_true", help="serve the tutorial version instead")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=MAX_NEW_TOKENS_LIMIT,
        help="largest max_new_tokens a request may ask for",
    )
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default="step",
        help="step: requests join the running batch at the next step (default); static: a batch "
        "starts when full or after --max-wait-ms, and runs to its end",
    )
    p.add_argument(
        "--max-batch-size",
        type=int,
        default=16,
        help="most requests generated together (1: one at a time; default 16)",
    )
    p.add_argument(
        "--max-wait-ms",
        type=float,
        default=None,
        help="--scheduler static only: how long a batch waits to fill before it starts (default 50)",
    )
    p.add_argument(
        "--prefix-cache-tokens",
        type=int,
        default=DEFAULT_PREFIX_CACHE_TOKENS,
        help="prompt positions kept for later prompts that begin the same way "
        f"(default {DEFAULT_PREFIX_CACHE_TOKENS}; 0: no prefix caching)",
    )
    p.add_argument(
        "--max-concurrent-requests",
        type=int,
        default=64,
        help="requests queued or running; more get 429 at once (default 64)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="seconds a request may take, waiting included (default 120)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=available_cores(),
        help="PyTorch compute threads (default: the cores this process may use, here "
        f"{available_cores()}; OMP_NUM_THREADS does not change it). /info reports it",
    )
    p.add_argument(
        "--pack-weights",
        choices=("auto", "on", "off"),
        default="auto",
        help="pack the linear layers' weights once for oneDNN (a CPU, a bfloat16 model; the same "
        "results): auto (default) with one compute thread, where a decoding step is 2.1x faster; "
        "on two it was slower. /info says whether they were",
    )
    p.add_argument(
        "--fast-decode",
        choices=("auto", "off"),
        default="auto",
        help="decoding steps through the engine's own DecodeStep (the same logits as the model's "
        "forward, without transformers' overhead): auto (default) for a Llama-like model; off: "
        "the model's forward. /info says which",
    )
    p.add_argument(
        "--compile-decode",
        action="store_true",
        help="one-row decoding steps through a graph compiled by torch.compile: 1.7-2.3x as fast "
        "for one stream on a CPU, other rounding than the model's forward, up to 2 minutes of "
        "compilation at start. /info: decode_compiled",
    )
    p.add_argument("--api-key", help="require `Authorization: Bearer KEY` (default: no key)")
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=MAX_BODY_BYTES,
        help=f"larger request bodies get 413 (default {MAX_BODY_BYTES})",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to call the server, e.g. http://localhost:3000 "
        "(repeatable; default none: CORS off)",
    )
    return p


def decoding_steps(engine) -> str:
    """Which step decodes, for the start-up log line."""
    if engine.decode_step is None:
        return f"model(...): {engine.decode_why_not}"
    compiled = engine.info()["decode_compiled"]
    if compiled is None:
        return "DecodeStep"
    if compiled["why_not"] is None:
        return f"CompiledStep for one row (compiled in {compiled['compile_s']} s), DecodeStep for more"
    return f"DecodeStep (not compiled: {compiled['why_not']})"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    import uvicorn

    from ..models import ModelNotAvailable
    from .app import create_app
    from .engine import Engine
    from .naive import create_naive_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    warning = exposure_warning(args.host, args.api_key)
    if warning:
        log.warning(warning)
    try:
        started = time.perf_counter()
        engine = Engine(
            args.model,
            max_new_tokens_limit=args.max_new_tokens,
            max_batch_size=1 if args.naive else args.max_batch_size,
            scheduler=args.scheduler,
            max_wait_ms=args.max_wait_ms,
            prefix_cache_tokens=args.prefix_cache_tokens,
            max_concurrent_requests=args.max_concurrent_requests,
            request_timeout=args.request_timeout,
            threads=args.threads,
            pack_weights={"auto": None, "on": True, "off": False}[args.pack_weights],
            fast_decode=None if args.fast_decode == "auto" else False,
            compile_decode=args.compile_decode,
        )
    except ModelNotAvailable as err:
        print(f"error: {err}")
        return 1
    except ValueError as err:  # settings that do not go together, e.g. --max-wait-ms without static
        print(f"error: {err}")
        return 2
    log.info(
        "model %s loaded in %.1f s (%s scheduler, %d compute threads, %s, decoding steps: %s)",
        engine.model_id,
        time.perf_counter() - started,
        engine.scheduler,
        engine.threads,
        f"{engine.packed_linears} linear layers packed" if engine.packed_linears
        else f"weights not packed: {engine.unpacked_why}",
        decoding_steps(engine),
    )
    app = (
        create_naive_app(engine)
        if args.naive
        else create_app(
            engine, api_key=args.api_key, max_body_bytes=args.max_body_bytes, cors_origins=args.cors_origin
        )
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
