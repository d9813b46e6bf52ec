"""A small load generator for LLM servers: closed loop (N clients) or open loop (R requests/s) (lesson 04).

``python -m course_utils.bench.loadtest --url URL [--clients N | --rate R] --duration S
[--max-tokens M | --max-tokens LO:HI] [--seed 0] [--timeout 120] [--stall-seconds 10] [--json PATH]``

Closed loop (``--clients N``, the default with 4): each client sends a request, reads the answer,
and sends the next, until the duration is over; a slow server thus slows its own load down. Open
loop (``--rate R``): requests arrive at random, a Poisson process of R requests per second (the
waits between them are exponential, mean 1/R, drawn from ``random.Random(seed)``), each sent
without waiting for the earlier ones, as users do; a slow server then sees its queue grow. In both,
the requests still running when the duration is over are waited for, at most ``--timeout``
seconds; those still unfinished then count as errors ``timeout``. ``--max-tokens LO:HI`` gives each
request a budget drawn uniformly from LO..HI (same seeded generator): replies of mixed lengths.

Printed: requests, refused (HTTP 429, apart from the other errors), generated tokens per second
over the whole run, p50/p95 latency and time to first token, and the longest time in which no
token arrived at all while requests were in flight (``--api naive``: between whole replies):
``--stall-seconds`` (default 10) or more is a stalled server, reported as such rather than
averaged away. Exit status 1 when every request failed or the server stalled.

``--api openai`` (default) streams ``POST /v1/chat/completions``, which the course server, TGI,
vLLM and ``transformers serve`` all speak; tokens are counted from the usage chunk when the server
sends one, else one per content chunk. ``--api tgi`` streams ``POST /generate_stream``;
``--api naive`` calls lesson 03's tutorial server (``POST /generate?prompt=...``), which cannot
stream, so its time to first token is the whole latency and its tokens are counted with the
course tokenizer.

Why not locust? Its users are synchronous and its numbers are per HTTP request; an LLM benchmark
needs time to first token from a stream and generated tokens per second, which take a few lines
with httpx and asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

PROMPTS = [
    "Write a long story about a dragon who learns to cook.",
    "Explain in detail how a bicycle works.",
    "Describe a journey across the sea, day by day.",
    "Write a long letter to a friend about your garden.",
    "Tell the history of a small mountain village.",
    "Explain how bread is made, step by step, in detail.",
    "Write a long story about a robot who paints.",
    "Describe a busy market in the morning, in detail.",
]
REFUSED = "429"  # the error of a request the server refused at once (overloaded)
MAX_TOKENS_FORM = "an integer N >= 1 or a range LO:HI of integers with 1 <= LO <= HI (e.g. 16:256)"


@dataclass
class Result:
    """One request: when it ended, how long it took, and how much it generated."""

    ok: bool
    latency: float
    ttft: float | None = None
    tokens: int = 0
    error: str | None = None


@dataclass
class Report:
    url: str
    api: str
    clients: int | None  # closed loop; None in the open loop
    duration_s: float
    max_tokens: int | str  # N, or "LO:HI" for budgets drawn from a range
    mode: str = "closed"  # "closed" (clients) or "open" (Poisson arrivals at offered_rate)
    offered_rate: float | None = None  # open loop: requests per second sent, whatever the answers
    requests: int = 0
    refused: int = 0  # HTTP 429: the server said it was full; not in errors
    errors: int = 0
    error_kinds: dict = field(default_factory=dict)
    generated_tokens: int = 0
    elapsed_s: float = 0.0
    tokens_per_s: float = 0.0
    requests_per_s: float = 0.0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    longest_gap_s: float = 0.0  # longest time with requests in flight and no token arriving at all
    stall_seconds: float = 10.0
    stalled: bool = False  # longest_gap_s >= stall_seconds

    @property
    def load(self) -> str:
        if self.mode == "open":
            return f"open loop, {self.offered_rate:g} req/s offered"
        return f"closed loop, {self.clients} clients"

    def lines(self) -> list[str]:
        def seconds(value):
            return "n/a" if value is None else f"{value:.2f} s"

        stall = (f"STALLED: no token for {self.longest_gap_s:.1f} s (>= {self.stall_seconds:g} s)"
                 if self.stalled else f"no (longest gap without a token {self.longest_gap_s:.2f} s)")
        return [
            f"{self.url} ({self.api}): {self.load} for {self.duration_s:g} s, max {self.max_tokens} tokens",
            f"requests      {self.requests} ({self.requests_per_s:.2f}/s answered), "
            f"refused {self.refused}, errors {self.errors}"
            + (f" {self.error_kinds}" if self.error_kinds else ""),
            f"tokens/s      {self.tokens_per_s:.1f} "
            f"({self.generated_tokens} tokens in {self.elapsed_s:.1f} s)",
            f"latency       p50 {seconds(self.latency_p50_s)}, p95 {seconds(self.latency_p95_s)}",
            f"first token   p50 {seconds(self.ttft_p50_s)}, p95 {seconds(self.ttft_p95_s)}",
            f"stalled       {stall}",
        ]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolated; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def parse_max_tokens(text: str) -> tuple[int, int]:
    """``"64"`` -> (64, 64); ``"16:256"`` -> (16, 256); anything else: ``ArgumentTypeError``."""
    parts = str(text).split(":")
    try:
        low, high = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        low, high = 0, 0
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected {MAX_TOKENS_FORM}, got {text!r}")
    return low, high


def budget_range(max_tokens) -> tuple[int, int]:
    """``max_tokens`` as (LO, HI): an int N is (N, N); a string is parsed; a pair is kept."""
    if isinstance(max_tokens, str):
        try:
            return parse_max_tokens(max_tokens)
        except argparse.ArgumentTypeError as err:
            raise ValueError(str(err)) from None
    low, high = (max_tokens, max_tokens) if isinstance(max_tokens, int) else tuple(max_tokens)
    if not 1 <= low <= high:
        raise ValueError(f"max_tokens: expected {MAX_TOKENS_FORM}, got {max_tokens!r}")
    return low, high


def _draw(rng: random.Random, budgets: tuple[int, int]) -> int:
    low, high = budgets
    return low if low == high else rng.randint(low, high)


def open_loop_schedule(rate: float, duration: float, max_tokens=64, seed: int = 0) -> list[tuple[float, int]]:
    """The open loop's requests: (seconds after the start, max tokens), one per Poisson arrival.

    The waits between arrivals are exponential with mean 1/rate; the budget of each is drawn
    after its arrival time, from the same ``random.Random(seed)``. Arrivals at or after
    ``duration`` are not sent.
    """
    rng, budgets = random.Random(seed), budget_range(max_tokens)
    schedule, at = [], rng.expovariate(rate)
    while at < duration:
        schedule.append((at, _draw(rng, budgets)))
        at += rng.expovariate(rate)
    return schedule


class GapTracker:
    """The longest time in which requests were in flight and not one token arrived."""

    def __init__(self) -> None:
        self.in_flight, self.since, self.longest = 0, 0.0, 0.0

    def _close(self, now: float) -> None:
        self.longest = max(self.longest, now - self.since)
        self.since = now

    def started(self) -> None:
        if self.in_flight == 0:
            self.since = time.perf_counter()
        self.in_flight += 1

    def token(self) -> None:
        self._close(time.perf_counter())

    def ended(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._close(time.perf_counter())


def _sse_data(line: str) -> str | None:
    return line[5:].strip() if line.startswith("data:") else None


async def _streamed(client, url: str, body: dict, headers: dict, count, on_token) -> Result:
    """POST ``body`` and read the server-sent events as they come; ``on_token()`` when tokens came.

    ``count(event)`` gives the new tokens in one event and, when the event reports it, the
    completion's token total (OpenAI's usage chunk), which then wins over the running count.
    """
    start = time.perf_counter()
    ttft, tokens, reported = None, 0, None
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return Result(False, time.perf_counter() - start, error=str(response.status_code))
        async for line in response.aiter_lines():
            data = _sse_data(line)
            if not data or data == "[DONE]":
                continue
            event = json.loads(data)
            if "error" in event:
                return Result(False, time.perf_counter() - start, error="stream error")
            new, total = count(event)
            reported = total if total is not None else reported
            if new:
                on_token()
                tokens += new
                ttft = ttft if ttft is not None else time.perf_counter() - start
    return Result(True, time.perf_counter() - start, ttft, reported if reported is not None else tokens)


def _openai_tokens(event: dict) -> tuple[int, int | None]:
    pieces = sum(1 for choice in event.get("choices") or [] if (choice.get("delta") or {}).get("content"))
    return pieces, (event.get("usage") or {}).get("completion_tokens")


def _tgi_tokens(event: dict) -> tuple[int, int | None]:
    return (1 if event.get("token") else 0), None


def _openai(model: str, response_format: dict | None = None, system: str | None = None):
    start = [{"role": "system", "content": system}] if system else []

    async def call(client, url, prompt, max_tokens, headers, on_token) -> Result:
        body = {"model": model, "messages": [*start, {"role": "user", "content": prompt}],
                "max_tokens": max_tokens, "stream": True, "stream_options": {"include_usage": True}}
        if response_format is not None:
            body["response_format"] = response_format
        return await _streamed(client, f"{url}/v1/chat/completions", body, headers, _openai_tokens, on_token)
    return call


async def _tgi(client, url, prompt, max_tokens, headers, on_token) -> Result:
    body = {"inputs": prompt, "parameters": {"max_new_tokens": max_tokens}}
    return await _streamed(client, f"{url}/generate_stream", body, headers, _tgi_tokens, on_token)


def _naive(count_tokens):
    async def call(client, url, prompt, max_tokens, headers, on_token) -> Result:
        start = time.perf_counter()
        query = {"prompt": prompt, "max_new_tokens": max_tokens}
        response = await client.post(f"{url}/generate", params=query, headers=headers)
        latency = time.perf_counter() - start
        if response.status_code != 200:
            return Result(False, latency, error=str(response.status_code))
        tokens = count_tokens(response.json()["generated_text"])
        if tokens:
            on_token()
        return Result(True, latency, latency, tokens)
    return call


class _Load:
    """What every request of a run shares: the client, the call, the results, the gap tracker."""

    def __init__(self, client, call, url: str, headers: dict) -> None:
        self.client, self.call, self.url, self.headers = client, call, url, headers
        self.results: list[Result] = []
        self.gaps = GapTracker()

    async def send(self, prompt: str, max_tokens: int) -> None:
        """One request, its result kept; cancelled (still running at the deadline): error "timeout"."""
        start = time.perf_counter()
        self.gaps.started()
        try:
            result = await self.call(self.client, self.url, prompt, max_tokens, self.headers, self.gaps.token)
        except asyncio.CancelledError:
            result = Result(False, time.perf_counter() - start, error="timeout")
            raise
        except Exception as err:  # a refused connection, a broken stream: counted, not fatal
            result = Result(False, time.perf_counter() - start, error=type(err).__name__)
        finally:
            self.gaps.ended()
            self.results.append(result)


async def _finish(tasks: list, timeout: float) -> None:
    """Wait for ``tasks`` at most ``timeout`` seconds; cancel those still running (errors "timeout")."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def _closed_loop(load: _Load, clients: int, duration: float, budgets, rng, timeout: float) -> None:
    stop_at = time.perf_counter() + duration

    async def one_client(i: int) -> None:
        n = 0
        while time.perf_counter() < stop_at:
            prompt = PROMPTS[(i + n) % len(PROMPTS)]
            n += 1
            await load.send(prompt, _draw(rng, budgets))

    await _finish([asyncio.create_task(one_client(i)) for i in range(clients)], duration + timeout)


async def _open_loop(load: _Load, schedule: list[tuple[float, int]], duration: float, timeout: float) -> None:
    started, tasks = time.perf_counter(), []
    for i, (at, max_tokens) in enumerate(schedule):
        await asyncio.sleep(max(started + at - time.perf_counter(), 0.0))
        tasks.append(asyncio.create_task(load.send(PROMPTS[i % len(PROMPTS)], max_tokens)))
    await asyncio.sleep(max(started + duration - time.perf_counter(), 0.0))
    await _finish(tasks, timeout)


async def run(url: str, clients: int | None = 4, duration: float = 30.0, max_tokens=64, api: str = "openai",
              api_key: str | None = None, timeout: float = 600.0, count_tokens=None,
              model: str = "course", *, rate: float | None = None, seed: int = 0,
              stall_seconds: float = 10.0, response_format: dict | None = None,
              system: str | None = None) -> Report:
    """Run the load; return the report (``lines()`` for printing, ``asdict`` for JSON).

    Closed loop with ``clients``, or open loop with ``rate`` (requests per second; then
    ``clients`` is ignored). ``max_tokens``: an int, or a range ``(LO, HI)`` / ``"LO:HI"`` to draw
    each request's budget from. ``timeout``: the most seconds to wait, after ``duration``, for
    the requests still running. ``stall_seconds``: a gap without any token this long is a stall.
    ``response_format``: sent with every request (OpenAI API only), e.g. a JSON schema.
    ``system``: a system message before every prompt (OpenAI API only): a start that every
    request shares, as an application's instructions are (what prefix caching reuses).
    """
    import httpx

    if (response_format is not None or system) and api != "openai":
        raise ValueError(f"response_format and system are for the OpenAI API only, not api={api!r}")
    url, budgets = url.rstrip("/"), budget_range(max_tokens)
    if api == "naive":
        call = _naive(count_tokens or course_token_counter())
    else:
        call = _openai(model, response_format, system) if api == "openai" else _tgi
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    connections = None if rate is not None else clients + 4  # open loop: as many as requests
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # no read timeout: the wait for a slow reply is bounded by `timeout` after the duration
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout, read=None), limits=limits) as client:
        load = _Load(client, call, url, headers)
        started = time.perf_counter()
        if rate is not None:
            await _open_loop(load, open_loop_schedule(rate, duration, budgets, seed), duration, timeout)
        else:
            await _closed_loop(load, clients, duration, budgets, random.Random(seed), timeout)
        elapsed = time.perf_counter() - started
    shown = budgets[0] if budgets[0] == budgets[1] else f"{budgets[0]}:{budgets[1]}"
    return summarize(load.results, elapsed, url=url, api=api, clients=None if rate is not None else clients,
                     duration_s=duration, max_tokens=shown, mode="closed" if rate is None else "open",
                     offered_rate=rate, longest_gap_s=load.gaps.longest, stall_seconds=stall_seconds)


def summarize(results: list[Result], elapsed: float, **meta) -> Report:
    ok = [r for r in results if r.ok]
    report = Report(**meta, requests=len(results), elapsed_s=elapsed)
    for r in results:
        if r.ok:
            continue
        if r.error == REFUSED:
            report.refused += 1
        else:
            report.errors += 1
            report.error_kinds[r.error] = report.error_kinds.get(r.error, 0) + 1
    report.generated_tokens = sum(r.tokens for r in ok)
    report.tokens_per_s = report.generated_tokens / elapsed if elapsed else 0.0
    report.requests_per_s = len(ok) / elapsed if elapsed else 0.0
    report.latency_p50_s = percentile([r.latency for r in ok], 50)
    report.latency_p95_s = percentile([r.latency for r in ok], 95)
    ttfts = [r.ttft for r in ok if r.ttft is not None]
    report.ttft_p50_s, report.ttft_p95_s = percentile(ttfts, 50), percentile(ttfts, 95)
    report.stalled = report.longest_gap_s >= report.stall_seconds
    return report


def course_token_counter(model: str | None = None):
    """A function that counts the tokens of a text with the model's tokenizer (the course model's)."""
    from ..models import load_tokenizer

    tokenizer = load_tokenizer(model)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench.loadtest",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--clients", type=int, help="closed loop: concurrent clients (the default, with 4)")
    load.add_argument("--rate", type=float, help="open loop: requests per second, Poisson arrivals")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--max-tokens", type=parse_max_tokens, default=(64, 64), metavar="N|LO:HI",
                        help="max new tokens per reply, or a range to draw each request's from (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the arrivals and the budgets (default 0)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait after the duration for requests still running (default 120)")
    parser.add_argument("--stall-seconds", type=float, default=10.0,
                        help="no token at all for this long while requests run: stalled (default 10)")
    parser.add_argument("--api", choices=["openai", "tgi", "naive"], default="openai")
    parser.add_argument("--api-key", help="sent as `Authorization: Bearer KEY`")
    parser.add_argument("--model", default="course",
                        help="the model name sent to OpenAI-style servers (default: course; "
                             "`transformers serve MODEL` wants that MODEL)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    parser.add_argument("--response-format", type=json.loads, metavar="JSON",
                        help='sent with every request, e.g. \'{"type": "json_object"}\' (OpenAI API only)')
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    clients = 4 if args.clients is None else args.clients
    if clients < 1 or args.duration <= 0:
        parser.error("--clients must be at least 1, --duration above 0")
    if (args.rate is not None and args.rate <= 0) or args.timeout <= 0 or args.stall_seconds <= 0:
        parser.error("--rate, --timeout and --stall-seconds must be above 0")
    if args.response_format is not None and args.api != "openai":
        parser.error("--response-format is an OpenAI API field: use it with --api openai")
    report = asyncio.run(run(args.url, clients, args.duration, args.max_tokens, args.api, args.api_key,
                             timeout=args.timeout, model=args.model, rate=args.rate, seed=args.seed,
                             stall_seconds=args.stall_seconds, response_format=args.response_format))
    print("\n".join(report.lines()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(report), f, indent=1)
    if report.requests and report.errors + report.refused == report.requests:
        print(f"error: every request failed ({report.refused} refused, {report.error_kinds}); "
              f"is the server running at {args.url}?", file=sys.stderr)
        return 1
    if report.stalled:
        print(f"error: the server stalled: no token for {report.longest_gap_s:.1f} s while requests ran",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
