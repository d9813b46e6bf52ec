"""Compare servers under the same load: lesson 04's benchmark, in a notebook or as one command.

    python -m course_utils.bench.benchmark [--servers naive reference-1 reference-16 transformers-cb]
        [--clients 1 4 16] [--rates 2 8] [--duration 20] [--max-tokens 64 | --max-tokens 16:256]
        [--open-max-tokens 16:256] [--runs 3] [--threads N] [--json PATH]

Each server runs alone, as its own process, on the course model in the dtype the course picks for
this machine: ``naive`` (lesson 03's tutorial server), ``reference-N`` (the reference server
batching up to N requests with the step scheduler; ``reference-1``: no batching),
``reference-static-N`` (static batches of up to N requests), ``reference-compiled-N``
(``reference-N`` with its one-row steps compiled: ``--compile-decode``, a compilation at start,
26-95 s measured, 52-62 s since 2026-12-04), ``transformers-cb`` and ``transformers``
(``transformers serve`` with and without continuous batching), and ``vllm`` (vLLM's OpenAI
server from ``.venv-vllm``, with its defaults: ``course_utils.vllm``). Each is warmed up with one
request, loaded by ``course_utils.bench.loadtest`` for each number of clients (closed
loop) and each rate (open loop: Poisson arrivals, requests per second), and stopped. Without
``--rates`` the clients default to 1 4 16; with ``--rates`` only the clients you name run too.
``--max-tokens LO:HI`` draws each request's budget from LO..HI: replies of mixed lengths;
``--open-max-tokens`` gives the open-loop runs budgets of their own (both scenarios in one run:
``--clients 1 16 --max-tokens 64 --rates 0.7 --open-max-tokens 16:256``). ``--runs 3`` runs each
load three times, in turn, and prints medians with the lowest and highest tokens/s: the form every
figure in the README takes. After the table it prints what bounds one stream: the machine's read
bandwidth over the model's weight bytes (``bandwidth_ceiling``), and each 1-client row's share of
it, against the bandwidth measured just before that row's runs (this host's moved between 24 and
32 GB/s in three benchmark runs within five minutes, 2026-12-04).

A server that goes ``--stall-seconds`` (default 10) without sending a single token while requests
wait is shown as ``STALLED`` in its row instead of a throughput. Each row also records what the
figure depends on besides the server: the machine's load average when the run started (another
busy process halves a 2-core machine) and the server's compute threads (its own report where it
gives one: the reference server's ``/info``, vLLM's log).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .loadtest import budget_range, course_token_counter, parse_max_tokens, run

SERVERS = ["naive", "reference-1", "reference-16", "transformers-cb"]
COLUMNS = ("mode", "clients", "offered_rate", "max_tokens", "requests", "refused", "errors", "tokens_per_s",
           "latency_p50_s", "latency_p95_s", "ttft_p50_s", "ttft_p95_s", "stalled", "longest_gap_s")
KNOWN = ("naive, reference-N, reference-static-N, reference-compiled-N, transformers-cb, transformers "
         "or vllm")


def server_command(name: str, model: str, dtype: str, port: int) -> tuple[list[str], str]:
    """The command that starts server ``name`` on ``port``, and the API to load it through."""
    serve = [sys.executable, "-m", "course_utils.server", "--model", model, "--port", str(port)]
    transformers = [sys.executable, "-m", "transformers.cli.transformers", "serve", model,
                    "--dtype", dtype, "--port", str(port)]
    size = name.rsplit("-", 1)[-1]
    if name == "naive":
        return serve + ["--naive"], "naive"
    if name.startswith("reference-static-") and size.isdigit():
        return serve + ["--scheduler", "static", "--max-batch-size", size], "openai"
    if name.startswith("reference-") and name.split("-", 1)[1].isdigit():
        return serve + ["--max-batch-size", size], "openai"
    if name.startswith("reference-compiled-") and size.isdigit():  # a compilation at start
        return serve + ["--max-batch-size", size, "--compile-decode"], "openai"
    if name == "transformers-cb":
        return transformers + ["--continuous-batching"], "openai"
    if name == "transformers":
        return transformers, "openai"
    if name == "vllm":  # started by course_utils.vllm.VLLMServer, from its own environment
        return ["vllm", "--dtype", dtype], "openai"
    raise ValueError(f"unknown server {name!r}: {KNOWN}")


def server_threads(name: str, url: str, log: str = "") -> str:
    """How many compute threads the server uses, as it reports them: the reference server's
    ``/info`` (``threads``), vLLM's log (the cores its worker is bound to); "" when it says not."""
    import httpx

    if name == "vllm":
        found = re.findall(r"core ids=\[([0-9, ]*)\]", log)
        return f"{len(found[-1].split(','))} (cores {found[-1]})" if found else ""
    try:
        info = httpx.get(f"{url}/info", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return ""
    return str(info.get("threads", "")) if isinstance(info, dict) else ""


def _sync(coroutine):
    """Run a coroutine to the end, also where an event loop already runs (a notebook's kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _check_compiled(url: str) -> None:
    """Refuse to measure a ``reference-compiled-N`` server whose graph did not compile: its figures
    would be ``DecodeStep``'s under the compiled server's name."""
    import httpx

    compiled = httpx.get(f"{url}/info", timeout=5).json().get("decode_compiled") or {}
    if compiled.get("why_not", "it reports no compiled step") is not None:
        raise RuntimeError(f"the compiled server at {url} decodes without its graph: "
                           f"{compiled.get('why_not', 'it reports no compiled step')}")


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


def scenario(row: dict) -> str:
    """ "closed 4 clients" or "open 2 req/s", then the budgets ("64 tok", "16:256 tok") when known:
    the load a row was measured under."""
    load = (f"open {row['offered_rate']:g} req/s" if row["mode"] == "open"
            else f"closed {row['clients']} clients")
    return f"{load}, {row['max_tokens']} tok" if row.get("max_tokens") else load


def format_row(row: dict) -> str:
    """One printed line: a stalled server shows ``STALLED (no token for X s)`` instead of tokens/s."""
    def s(value):
        return "   n/a" if value is None else f"{value:6.2f}"

    speed = (f"STALLED (no token for {row['longest_gap_s']:.1f} s)" if row["stalled"]
             else f"{row['tokens_per_s']:9.1f} tok/s")
    if not row["stalled"] and row.get("runs", 1) > 1:
        speed += f" ({row['tokens_per_s_low']:.1f}-{row['tokens_per_s_high']:.1f}, {row['runs']} runs)"
    return (f"{row['server']:20} {row['scenario']:30} {speed:>44}  p50 {s(row['latency_p50_s'])} s"
            f"  p95 {s(row['latency_p95_s'])} s  first token p95 {s(row['ttft_p95_s'])} s"
            f"  requests {row['requests']:4}  refused {row['refused']:3}  errors {row['errors']:3}"
            f"  threads {row.get('threads') or '?'}  load {row.get('load_average', float('nan')):.2f}")


HEADER = (f"{'server':20} {'scenario':30} {'throughput (median, lowest-highest)':>44}"
          "  latency p50, p95, time to first token p95")


def format_table(rows: list[dict]) -> str:
    return "\n".join([HEADER, *(format_row(row) for row in rows)])


def _median_row(reports: list) -> dict:
    """One row from repeated runs of the same load: the median of each figure (latencies and
    tokens/s each on their own), the lowest and highest tokens/s, errors and refusals summed, and
    stalled if any run stalled."""
    import statistics

    row = {}
    for key in COLUMNS:
        values = [getattr(report, key) for report in reports]
        if key in ("refused", "errors"):
            row[key] = sum(values)
        elif key == "stalled":
            row[key] = any(values)
        elif key in ("mode", "clients", "offered_rate", "max_tokens"):
            row[key] = values[0]
        else:
            known = [v for v in values if v is not None]
            row[key] = statistics.median(known) if known else None
    from ..timing import spread  # the course's median-and-range, as every lesson prints it

    speeds = spread([report.tokens_per_s for report in reports], "tok/s")
    row.update(runs=speeds.runs, tokens_per_s_low=speeds.low, tokens_per_s_high=speeds.high)
    return row


IDLE_BEFORE_READ_S = 1.0  # before a read: the server's threads asleep (vLLM's poll a second after work)


def _measure(name: str, url: str, api: str, dtype: str, loads, duration: float, options: dict,
             progress, threads: str = "", runs: int = 1, read=None) -> list[dict]:
    """Load one running server with each (clients, rate) in ``loads``, ``runs`` times; one row each.

    ``loads``: (clients, rate, max_tokens) each; ``options``: ``run``'s keyword arguments shared
    by every run (model, seed, ...). With several runs the loads go round in turn (a slow moment
    of the machine does not hit one load only) and each row holds the medians (``_median_row``).
    ``read``: a function giving the machine's read bandwidth in GB/s, called before each run of
    one client (the server idle a second) and kept in its row (``read_gb_s``, the median): this
    host's bandwidth moves by a third from minute to minute, so a bound measured once is not the
    bound of every row.
    """
    warm_up = {k: options[k] for k in ("model", "count_tokens")}
    _sync(run(url, 1, 0.1, 8, api, **warm_up))
    reports, loads_before, reads = {i: [] for i in range(len(loads))}, {}, {i: [] for i in range(len(loads))}
    for _ in range(runs):
        for i, (clients, rate, max_tokens) in enumerate(loads):
            loads_before.setdefault(i, round(os.getloadavg()[0], 2))  # the machine's own business
            if read is not None and clients == 1 and rate is None:
                time.sleep(IDLE_BEFORE_READ_S)
                reads[i].append(read())
            reports[i].append(_sync(run(url, clients, duration, api=api, rate=rate, max_tokens=max_tokens,
                                        **options)))
    rows = []
    for i, (_clients, _rate, max_tokens) in enumerate(loads):
        low, high = budget_range(max_tokens)
        row = {"server": name, "dtype": dtype, "threads": threads, "load_average": loads_before[i],
               **_median_row(reports[i]), "max_tokens": str(low) if low == high else f"{low}:{high}"}
        if reads[i]:
            row["read_gb_s"] = statistics.median(reads[i])
        row["scenario"] = scenario(row)
        rows.append(row)
        if progress:
            progress(format_row(row))
    return rows


def compare(servers=SERVERS, clients=(1, 4, 16), duration: float = 20.0, max_tokens=64,
            model: str | None = None, dtype: str | None = None, start_timeout: float = 180.0,
            progress=print, rates=(), seed: int = 0, stall_seconds: float = 10.0,
            timeout: float = 120.0, open_max_tokens=None, running: dict | None = None,
            threads: int | None = None, runs: int = 1, bound: bool = False) -> list[dict]:
    """Benchmark each server in turn; one row (a dict) per server and load.

    The loads: a closed loop for each number of ``clients``, then an open loop for each of the
    ``rates`` (requests per second). ``max_tokens``: an int, or ``(LO, HI)`` / ``"LO:HI"``;
    ``open_max_tokens``: the open loop's, if not the same. ``running``: servers already running,
    name -> URL, or name -> a running ``VLLMServer`` (its log gives its threads): loaded as they
    are, not started. ``threads``: the compute
    threads of each server started here (the course's: ``--threads``; ``transformers serve``:
    ``OMP_NUM_THREADS``; vLLM binds its own); ``None``: each server's default (the course's: every
    core). ``runs``: each load is run this many times (in turn) and each row gives the medians,
    with the lowest and highest tokens/s. ``bound``: the read bandwidth measured before each run
    of one client (``read_gb_s`` in its row; see ``_measure``).
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    from ..device import pick_device, pick_dtype
    from ..models import resolve_model
    from ..server import free_port

    model = str(model or resolve_model().path)
    dtype = dtype or str(pick_dtype(pick_device())).removeprefix("torch.")
    count_tokens = course_token_counter(model)  # for the naive server, which reports no counts
    open_max_tokens = max_tokens if open_max_tokens is None else open_max_tokens
    loads = [(n, None, max_tokens) for n in clients] + [(1, rate, open_max_tokens) for rate in rates]
    read = (lambda: read_bandwidth(threads)["read_gb_s"]) if bound else None

    rows = []
    if progress:
        progress(HEADER)
    for name in servers:
        sent_name = model if name.startswith("transformers") else "course"  # it wants its own
        options = {"model": sent_name, "count_tokens": count_tokens,
                   "seed": seed, "stall_seconds": stall_seconds, "timeout": timeout}
        if name in (running or {}):
            given = running[name]  # a URL, or a running server with .url and .log() (VLLMServer)
            url, log = (given.url, given.log()) if hasattr(given, "url") else (given, "")
            rows += _measure(name, url, "openai", dtype, loads, duration, options, progress,
                             server_threads(name, url, log), runs, read)
            continue
        if name == "vllm":
            from ..vllm import VLLMServer

            with VLLMServer(model, dtype=dtype, start_timeout=max(start_timeout, 400)) as server:
                rows += _measure(name, server.url, "openai", dtype, loads, duration, options, progress,
                                 server_threads(name, server.url, server.log()), runs, read)
            continue
        port = free_port()
        command, api = server_command(name, model, dtype, port)
        url = f"http://127.0.0.1:{port}"
        # A server started here gets no thread setting of this process's (OMP_NUM_THREADS=1 set
        # for a test run would cost a server a third of its speed): the course's servers set their
        # own (--threads), `transformers serve` gets OMP_NUM_THREADS only when ``threads`` is given.
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        told = ""
        if threads is not None and command[:3] == [sys.executable, "-m", "course_utils.server"]:
            command, told = command + ["--threads", str(threads)], str(threads)
        elif threads is not None:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
            told = f"{threads} (OMP_NUM_THREADS)"
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            # a compiled server gets 10 more minutes to start (on the course's CPU 26-95 s measured,
            # 52-62 s with inductor's products only)
            _wait_healthy(url, process, start_timeout + (600 if "compiled" in name else 0))
            if "compiled" in name:
                _check_compiled(url)
            rows += _measure(name, url, api, dtype, loads, duration, options, progress,
                             server_threads(name, url) or told, runs, read)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return rows


def bandwidth_ceiling(model: str, dtype: str, threads: int | None = None, gib: float = 1.0) -> dict:
    """What bounds one stream: the machine's read bandwidth and the bytes of the model's weights.

    Decoding one token reads every weight once (the tied output matrix included), so one stream
    cannot go faster than ``bandwidth / weight bytes`` tokens per second, however good the engine.
    The bandwidth is measured here (``read_bandwidth``); the bytes are read from the model's
    safetensors headers (no weights loaded) at ``dtype``'s size (``weight_bytes``).
    """
    measured, size = read_bandwidth(threads, gib), weight_bytes(model, dtype)
    return {**measured, "weight_bytes": size,
            "ceiling_tok_s": measured["read_gb_s"] * 1e9 / size if size else float("nan")}


def weight_bytes(model: str, dtype: str) -> int:
    """The bytes of ``model``'s weights at ``dtype``'s size, from its safetensors headers."""
    from pathlib import Path

    import torch
    from safetensors import safe_open

    element = torch.empty((), dtype=getattr(torch, dtype)).element_size()
    params = 0
    for path in sorted(Path(model).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            params += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())
    return params * element


def read_bandwidth(threads: int | None = None, gib: float = 1.0) -> dict:
    """The machine's read bandwidth now: the median of 5 sums over a ``gib`` GiB tensor with
    ``threads`` PyTorch threads (default: every core)."""
    import statistics

    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        data = torch.ones(int(gib * 2**30) // 4, dtype=torch.float32)
        data.sum()  # first touch
        times = []
        for _ in range(5):
            start = time.perf_counter()
            data.sum()
            times.append(time.perf_counter() - start)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    return {"read_gb_s": data.numel() * 4 / statistics.median(times) / 1e9, "threads": used}


def ceiling_lines(rows: list[dict], ceiling: dict, when: str = "") -> list[str]:
    """For each 1-client closed-loop row: its tokens/s against the bandwidth ceiling, its own where
    the row has one (``read_gb_s``, measured before its runs), else ``ceiling``'s (measured
    ``when``, said in the first line: "after the runs")."""
    lines = [f"bandwidth ceiling for one stream: {ceiling['read_gb_s']:.1f} GB/s read "
             f"({ceiling['threads']} threads) / {ceiling['weight_bytes'] / 1e6:.0f} MB of weights = "
             f"{ceiling['ceiling_tok_s']:.0f} tokens/s, {1000 / ceiling['ceiling_tok_s']:.1f} ms per token"
             + (f" (measured {when})" if when else "")]
    for row in rows:
        if row["mode"] == "closed" and row["clients"] == 1 and not row["stalled"] and row["tokens_per_s"]:
            own = row.get("read_gb_s") if ceiling["weight_bytes"] else None
            limit = own * 1e9 / ceiling["weight_bytes"] if own else ceiling["ceiling_tok_s"]
            lines.append(f"  {row['server']:20} 1 client: {row['tokens_per_s']:.1f} tok/s, "
                         f"{1000 / row['tokens_per_s']:.1f} ms per token, {row['tokens_per_s'] / limit:.0%} "
                         + (f"of its own ceiling ({own:.1f} GB/s before its runs, {limit:.0f} tokens/s)"
                            if own else "of the ceiling"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench.benchmark",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=SERVERS)
    parser.add_argument("--clients", nargs="+", type=int,
                        help="closed loop: numbers of clients (default 1 4 16, none with --rates)")
    parser.add_argument("--rates", nargs="+", type=float, default=[],
                        help="open loop: requests per second (Poisson arrivals), one run each")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per run")
    parser.add_argument("--max-tokens", type=parse_max_tokens, default=(64, 64), metavar="N|LO:HI",
                        help="each request's budget: N, or drawn from LO..HI (default 64)")
    parser.add_argument("--open-max-tokens", type=parse_max_tokens, metavar="N|LO:HI",
                        help="the open-loop runs' budgets (default: --max-tokens)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the arrivals and the budgets")
    parser.add_argument("--stall-seconds", type=float, default=10.0,
                        help="no token at all for this long while requests run: STALLED (default 10)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait after each run for requests still running (default 120)")
    parser.add_argument("--runs", type=int, default=1,
                        help="run each load this many times, in turn; rows give medians (default 1)")
    parser.add_argument("--threads", type=int,
                        help="compute threads of the course's servers and transformers serve "
                             "(default: theirs, every core; vLLM binds its own)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    clients = args.clients if args.clients is not None else ([] if args.rates else [1, 4, 16])
    if any(n < 1 for n in clients) or any(r <= 0 for r in args.rates) or args.duration <= 0:
        parser.error("--clients must be at least 1, --rates and --duration above 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        for name in args.servers:
            server_command(name, "m", "bfloat16", 1)
    except ValueError as err:
        parser.error(str(err))
    from ..device import pick_device, pick_dtype
    from ..models import resolve_model

    model = resolve_model().path
    dtype = str(pick_dtype(pick_device())).removeprefix("torch.")
    rows = compare(args.servers, clients, args.duration, args.max_tokens, model=model, dtype=dtype,
                   rates=args.rates, seed=args.seed,
                   stall_seconds=args.stall_seconds, timeout=args.timeout,
                   open_max_tokens=args.open_max_tokens, threads=args.threads,
                   runs=args.runs, bound=True)  # prints the table, row by row
    if args.json:  # first: the rows are kept whatever the ceiling's measurement does
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("\n".join(ceiling_lines(rows, bandwidth_ceiling(model, dtype, args.threads), "after the runs")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
