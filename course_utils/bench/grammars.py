"""What a grammar costs on the course tokenizer: compile time, and mask time per decoding step.

    python -m course_utils.bench.grammars            # the server's engine (llguidance)
    python -m course_utils.bench.grammars --also xgrammar   # and xgrammar, where it is installed
    python -m course_utils.bench.grammars --load http://127.0.0.1:8000   # what it costs a server

``--load URL`` runs the course's load test twice against a running server (16 clients, 64-token
budgets, streamed), without and then with a JSON schema on every request, and prints tokens per
second and latency for both: the cost of constrained decoding under load, in one run.

For each schema the server's tests use (a small object, ``{}``, a recursive ``$ref``, an enum of
1,000 words), it times compiling the grammar and then, token by token along a valid answer, the
mask of allowed tokens before each one, as the server computes it before a decoding step. A step
of the course model takes about 25 ms on the course CPU (lesson 04), so a mask is cheap when it
is a small fraction of that. Printed, never asserted: timings belong to the machine.

llguidance is measured through the server's own ``Grammars`` and ``Matcher``
(``course_utils/server/grammar.py``); xgrammar, when ``--also xgrammar`` is given and it is
installed (``pip install xgrammar``, which also pulls Triton on Linux), through its own API, with
the same layout (no free whitespace).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

SCHEMAS = {
    "person": {"type": "object", "properties": {
        "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
        "city": {"enum": ["Paris", "Lyon", "Nice"]}},
        "required": ["name", "age", "city"], "additionalProperties": False},
    "empty {}": {},
    "recursive $ref": {"$defs": {"node": {"type": "object", "properties": {
        "value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "required": ["value"]}}, "$ref": "#/$defs/node"},
    "enum of 1,000": {"type": "object", "properties": {"word": {"enum": [f"word{i}" for i in range(1000)]}},
                      "required": ["word"]},
}
ANSWERS = {  # a valid answer to each, as the server lays JSON out
    "person": {"name": "Ada Lovelace", "age": 36, "city": "Paris"},
    "empty {}": {"a": [1, 2, {"b": None}]},
    "recursive $ref": {"value": 1, "children": [{"value": 2}, {"value": 3, "children": []}]},
    "enum of 1,000": {"word": "word999"},
}


def _row(engine, name, compile_s, mask_s, accepted):
    return {"engine": engine, "schema": name, "compile_ms": round(1000 * compile_s, 2),
            "mask_ms_median": round(1000 * statistics.median(mask_s), 4),
            "mask_ms_max": round(1000 * max(mask_s), 4), "steps": len(mask_s), "answer_accepted": accepted}


def measure_llguidance(tokenizer) -> list[dict]:
    """Rows for the server's engine, through the server's own classes."""
    import llguidance.torch

    from ..server.grammar import Constraint, Grammars

    grammars = Grammars(tokenizer)
    grammars.check(Constraint.json_schema({"type": "integer"}))  # imports and the tokenizer: once a server
    rows = []
    for name, schema in SCHEMAS.items():
        started = time.perf_counter()
        matcher = grammars.matcher(Constraint.json_schema(schema))
        compile_s = time.perf_counter() - started
        bitmask = llguidance.torch.allocate_token_bitmask(1, matcher.tokenizer.vocab_size)
        ids = tokenizer(json.dumps(ANSWERS[name]), add_special_tokens=False)["input_ids"]
        mask_s, accepted = [], True
        for token in ids:
            started = time.perf_counter()
            matcher.fill(bitmask, 0)
            mask_s.append(time.perf_counter() - started)
            accepted = matcher.matcher.consume_token(token)
            if not accepted:
                break
        rows.append(_row("llguidance", name, compile_s, mask_s, accepted))
    return rows


def measure_xgrammar(tokenizer) -> list[dict]:
    """Rows for xgrammar, where it is installed (it is not one of the course's requirements)."""
    import xgrammar

    info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer))
    compiler = xgrammar.GrammarCompiler(info)
    rows = []
    for name, schema in SCHEMAS.items():
        started = time.perf_counter()
        compiled = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
        compile_s = time.perf_counter() - started
        matcher = xgrammar.GrammarMatcher(compiled)
        bitmask = xgrammar.allocate_token_bitmask(1, info.vocab_size)
        mask_s, accepted = [], True
        for token in tokenizer(json.dumps(ANSWERS[name]), add_special_tokens=False)["input_ids"]:
            started = time.perf_counter()
            matcher.fill_next_token_bitmask(bitmask)
            mask_s.append(time.perf_counter() - started)
            accepted = matcher.accept_token(token)
            if not accepted:
                break
        rows.append(_row("xgrammar", name, compile_s, mask_s, accepted))
    return rows


# Constrained on every request of the load test: an object whose strings the model fills freely, so
# that answers are as long as the budget allows, as unconstrained ones are.
LOAD_SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}, "story": {"type": "string"}},
               "required": ["title", "story"], "additionalProperties": False}


def load_both(url: str, clients: int, duration: float) -> int:
    """The load test without, then with, a JSON schema on every request; both printed."""
    import asyncio

    from .loadtest import run

    schema = {"type": "json_schema", "json_schema": {"name": "story", "schema": LOAD_SCHEMA, "strict": True}}
    rows = {}
    for name, response_format in (("unconstrained", None), ("JSON schema", schema)):
        report = asyncio.run(run(url, clients, duration, 64, response_format=response_format))
        rows[name] = report
        print(f"{name}: {report.tokens_per_s:.1f} tokens/s, p95 latency {report.latency_p95_s:.2f} s, "
              f"{report.requests} requests, {report.errors} errors")
    plain, constrained = rows["unconstrained"], rows["JSON schema"]
    if plain.tokens_per_s and constrained.tokens_per_s:
        print(f"-> with a schema on every request: {constrained.tokens_per_s / plain.tokens_per_s:.2f}x the "
              f"tokens/s of plain requests ({clients} clients, {duration:g} s each)")
    return 1 if plain.errors or constrained.errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--also", action="append", default=[], choices=["xgrammar"],
                        help="also measure this engine, where it is installed")
    parser.add_argument("--load", metavar="URL", help="a running server: load it without and with a schema")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each load test")
    args = parser.parse_args(argv)
    if args.load:
        return load_both(args.load, args.clients, args.duration)
    from ..models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model().path)
    rows = measure_llguidance(tokenizer)
    for engine in args.also:
        try:
            rows += {"xgrammar": measure_xgrammar}[engine](tokenizer)
        except ImportError:
            print(f"{engine} is not installed here: pip install {engine} to compare it")
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
