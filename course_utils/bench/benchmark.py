"""Compare servers under the same load: lesson 04's benchmark, in a notebook or as one command.

    python -m course_utils.bench.benchmark [--servers naive reference-1 reference-16 transformers-cb]
        [--clients 1 4 16] [--duration 20] [--max-tokens 64] [--json PATH]

Each server runs alone, as its own process, on the course model in the dtype the course picks for
this machine: ``naive`` (lesson 03's tutorial server), ``reference-N`` (the reference server
batching up to N requests; ``reference-1``: no batching), ``transformers-cb`` and
``transformers`` (``transformers serve`` with and without continuous batching). Each is warmed up
with one request, loaded by ``course_utils.bench.loadtest`` for each number of clients, and stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .loadtest import course_token_counter, run

SERVERS = ["naive", "reference-1", "reference-16", "transformers-cb"]
COLUMNS = ("clients", "requests", "errors", "tokens_per_s", "latency_p50_s", "latency_p95_s",
           "ttft_p50_s", "ttft_p95_s")


def server_command(name: str, model: str, dtype: str, port: int) -> tuple[list[str], str]:
    """The command that starts server ``name`` on ``port``, and the API to load it through."""
    serve = [sys.executable, "-m", "course_utils.server", "--model", model, "--port", str(port)]
    transformers = [sys.executable, "-m", "transformers.cli.transformers", "serve", model,
                    "--dtype", dtype, "--port", str(port)]
    if name == "naive":
        return serve + ["--naive"], "naive"
    if name.startswith("reference-") and name.split("-", 1)[1].isdigit():
        return serve + ["--max-batch-size", name.split("-", 1)[1]], "openai"
    if name == "transformers-cb":
        return transformers + ["--continuous-batching"], "openai"
    if name == "transformers":
        return transformers, "openai"
    raise ValueError(f"unknown server {name!r}: naive, reference-N, transformers-cb or transformers")


def _sync(coroutine):
    """Run a coroutine to the end, also where an event loop already runs (a notebook's kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}; run its command "
                               f"by hand to see why: {' '.join(process.args)}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"no healthy server at {url} after {timeout:g} s")


def compare(servers=SERVERS, clients=(1, 4, 16), duration: float = 20.0, max_tokens: int = 64,
            model: str | None = None, dtype: str | None = None, start_timeout: float = 180.0,
            progress=print) -> list[dict]:
    """Benchmark each server in turn; one row (a dict) per server and number of clients."""
    from ..device import pick_device, pick_dtype
    from ..models import resolve_model
    from ..server import free_port

    model = str(model or resolve_model().path)
    dtype = dtype or str(pick_dtype(pick_device())).removeprefix("torch.")
    count_tokens = course_token_counter(model)  # for the naive server, which reports no counts

    rows = []
    for name in servers:
        port = free_port()
        command, api = server_command(name, model, dtype, port)
        url = f"http://127.0.0.1:{port}"
        sent_name = model if name.startswith("transformers") else "course"  # it wants its own
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_healthy(url, process, start_timeout)
            _sync(run(url, 1, 0.1, 8, api, model=sent_name, count_tokens=count_tokens))  # warm-up
            for n in clients:
                report = _sync(run(url, n, duration, max_tokens, api, model=sent_name,
                                   count_tokens=count_tokens))
                rows.append({"server": name, "dtype": dtype, **{k: getattr(report, k) for k in COLUMNS}})
                if progress:
                    progress(f"{name:16} {n:3} clients  {report.tokens_per_s:7.1f} tok/s  "
                             f"p50 {report.latency_p50_s or 0:6.2f} s  p95 {report.latency_p95_s or 0:6.2f} s"
                             f"  first token p50 {report.ttft_p50_s or 0:5.2f} s  errors {report.errors}")
        finally:
            process.terminate()
            process.wait(timeout=30)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench.benchmark",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=SERVERS)
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per run")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--json", metavar="PATH", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    try:
        for name in args.servers:
            server_command(name, "m", "bfloat16", 1)
    except ValueError as err:
        parser.error(str(err))
    rows = compare(args.servers, args.clients, args.duration, args.max_tokens)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
