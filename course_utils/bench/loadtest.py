"""A small load generator for LLM servers: N concurrent clients for S seconds (lesson 04).

``python -m course_utils.bench.loadtest --url URL --clients N --duration S [--max-tokens M] [--json PATH]``

Each client sends a request, reads the answer, and sends the next, until the duration is over
(requests still running then are waited for and counted). Printed: requests, errors, generated
tokens per second over the whole run, p50/p95 latency and p50/p95 time to first token.

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
    clients: int
    duration_s: float
    max_tokens: int
    requests: int = 0
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

    def lines(self) -> list[str]:
        def seconds(value):
            return "n/a" if value is None else f"{value:.2f} s"

        return [
            f"{self.url} ({self.api}): {self.clients} clients for {self.duration_s:g} s, "
            f"max {self.max_tokens} tokens",
            f"requests      {self.requests} ({self.requests_per_s:.2f}/s)",
            f"errors        {self.errors}" + (f" {self.error_kinds}" if self.error_kinds else ""),
            f"tokens/s      {self.tokens_per_s:.1f} "
            f"({self.generated_tokens} tokens in {self.elapsed_s:.1f} s)",
            f"latency       p50 {seconds(self.latency_p50_s)}, p95 {seconds(self.latency_p95_s)}",
            f"first token   p50 {seconds(self.ttft_p50_s)}, p95 {seconds(self.ttft_p95_s)}",
        ]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolated; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _sse_data(line: str) -> str | None:
    return line[5:].strip() if line.startswith("data:") else None


async def _streamed(client, url: str, body: dict, headers: dict, count) -> Result:
    """POST ``body`` and read the server-sent events as they come.

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
                tokens += new
                ttft = ttft if ttft is not None else time.perf_counter() - start
    return Result(True, time.perf_counter() - start, ttft, reported if reported is not None else tokens)


def _openai_tokens(event: dict) -> tuple[int, int | None]:
    pieces = sum(1 for choice in event.get("choices") or [] if (choice.get("delta") or {}).get("content"))
    return pieces, (event.get("usage") or {}).get("completion_tokens")


def _tgi_tokens(event: dict) -> tuple[int, int | None]:
    return (1 if event.get("token") else 0), None


def _openai(model: str):
    async def call(client, url, prompt, max_tokens, headers) -> Result:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
                "stream": True, "stream_options": {"include_usage": True}}
        return await _streamed(client, f"{url}/v1/chat/completions", body, headers, _openai_tokens)
    return call


async def _tgi(client, url, prompt, max_tokens, headers) -> Result:
    body = {"inputs": prompt, "parameters": {"max_new_tokens": max_tokens}}
    return await _streamed(client, f"{url}/generate_stream", body, headers, _tgi_tokens)


def _naive(count_tokens):
    async def call(client, url, prompt, max_tokens, headers) -> Result:
        start = time.perf_counter()
        query = {"prompt": prompt, "max_new_tokens": max_tokens}
        response = await client.post(f"{url}/generate", params=query, headers=headers)
        latency = time.perf_counter() - start
        if response.status_code != 200:
            return Result(False, latency, error=str(response.status_code))
        return Result(True, latency, latency, count_tokens(response.json()["generated_text"]))
    return call


async def run(url: str, clients: int, duration: float, max_tokens: int = 64, api: str = "openai",
              api_key: str | None = None, timeout: float = 600.0, count_tokens=None,
              model: str = "course") -> Report:
    """Run the load; return the report (``lines()`` for printing, ``asdict`` for JSON)."""
    import httpx

    url = url.rstrip("/")
    if api == "naive":
        call = _naive(count_tokens or course_token_counter())
    else:
        call = _openai(model) if api == "openai" else _tgi
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    results: list[Result] = []
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        started = time.perf_counter()
        stop_at = started + duration

        async def one_client(i: int) -> None:
            n = 0
            while time.perf_counter() < stop_at:
                prompt = PROMPTS[(i + n) % len(PROMPTS)]
                n += 1
                try:
                    results.append(await call(client, url, prompt, max_tokens, headers))
                except Exception as err:  # a refused connection, a timeout: counted, not fatal
                    results.append(Result(False, 0.0, error=type(err).__name__))

        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return summarize(results, elapsed, url=url, api=api, clients=clients, duration_s=duration,
                     max_tokens=max_tokens)


def summarize(results: list[Result], elapsed: float, **meta) -> Report:
    ok = [r for r in results if r.ok]
    report = Report(**meta, requests=len(results), errors=len(results) - len(ok), elapsed_s=elapsed)
    for r in results:
        if not r.ok:
            report.error_kinds[r.error] = report.error_kinds.get(r.error, 0) + 1
    report.generated_tokens = sum(r.tokens for r in ok)
    report.tokens_per_s = report.generated_tokens / elapsed if elapsed else 0.0
    report.requests_per_s = len(ok) / elapsed if elapsed else 0.0
    report.latency_p50_s = percentile([r.latency for r in ok], 50)
    report.latency_p95_s = percentile([r.latency for r in ok], 95)
    ttfts = [r.ttft for r in ok if r.ttft is not None]
    report.ttft_p50_s, report.ttft_p95_s = percentile(ttfts, 50), percentile(ttfts, 95)
    return report


def course_token_counter(model: str | None = None):
    """A function that counts the tokens of a text with the model's tokenizer (the course model's)."""
    from ..models import load_tokenizer

    tokenizer = load_tokenizer(model)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench.loadtest",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--max-tokens", type=int, default=64, help="max new tokens per reply (default 64)")
    parser.add_argument("--api", choices=["openai", "tgi", "naive"], default="openai")
    parser.add_argument("--api-key", help="sent as `Authorization: Bearer KEY`")
    parser.add_argument("--model", default="course",
                        help="the model name sent to OpenAI-style servers (default: course; "
                             "`transformers serve MODEL` wants that MODEL)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.max_tokens < 1:
        parser.error("--clients and --max-tokens must be at least 1, --duration above 0")
    report = asyncio.run(run(args.url, args.clients, args.duration, args.max_tokens, args.api, args.api_key,
                             model=args.model))
    print("\n".join(report.lines()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(report), f, indent=1)
    if report.requests and report.errors == report.requests:
        print(f"error: every request failed ({report.error_kinds}); is the server running at {args.url}?",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
