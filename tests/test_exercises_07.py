"""Lesson 07's checks (a prediction, three exercises) against wrong and right answers.

The checks run the answers against fake servers (``course_utils.fakes.FakeReplica``), so none of
this needs vLLM. Every exercise gets at least three plausible wrong answers, each caught with the
message the learner reads, and at least one valid answer written differently from the solution;
the router gets the wrong routers a learner is likely to write (round robin, a buffering proxy, a
proxy that re-encodes bodies, no health checks, retries that duplicate work).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exercise_harness import failure_text, run_check, with_answer

LESSON = "07_vllm"
ROOT = Path(__file__).resolve().parent.parent
PRELUDE = "import asyncio\nimport json\nimport httpx\n"


def solution(name: str) -> str:
    """The solutions notebook's answer cell that defines ``name``."""
    cells = json.loads((ROOT / "notebooks" / "solutions" / f"{LESSON}.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return next(s for s in sources if f"def {name}(" in s)


def check(question: str, source: str):
    import textwrap

    env = with_answer({"__name__": "__main__"}, PRELUDE + textwrap.dedent(source))
    return run_check(LESSON, question, env)


def caught(question: str, source: str, fragment: str) -> str:
    result = check(question, source)
    text = failure_text(result)
    assert not result.passed, f"{question}: this wrong answer passed:\n{source}"
    assert fragment in text, f"{question}: expected {fragment!r} in:\n{text}"
    return text


def accepted(question: str, source: str) -> None:
    result = check(question, source)
    assert result.passed, f"{question}: a valid answer failed:\n{failure_text(result)}\n{source}"


@pytest.mark.parametrize("question, name", [("any_server_client", "ask_any"), ("capacity", "capacity"),
                                            ("router", "make_router")])
def test_the_solution_passes(question, name):
    accepted(question, solution(name))


# ------------------------------------------------------------------ Exercise 1: ask_any
ASK = '''
from openai import OpenAI

def ask_any(base_url, question, max_tokens=32):
    client = OpenAI(base_url=f"{base_url}/v1", api_key="x")
    MODEL_LINE
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}],
                                            CREATE_ARGS)
    RETURN_LINE
'''
GOOD_MODEL = "model = client.models.list().data[0].id"
GOOD_ARGS = "max_tokens=max_tokens, temperature=0, stream=True"
GOOD_RETURN = 'return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)'


def ask(model=GOOD_MODEL, args=GOOD_ARGS, ret=GOOD_RETURN):
    return ASK.replace("MODEL_LINE", model).replace("CREATE_ARGS", args).replace("RETURN_LINE", ret)


@pytest.mark.parametrize("answer, fragment", [
    (ask(model='model = "course"'), "ask the server which model it serves"),  # hard-coded name
    (ask(args="max_tokens=max_tokens, stream=True"), "temperature=0"),  # the server's default samples
    (ask(args="max_tokens=max_tokens, temperature=0, stream=False",
         ret="return stream.choices[0].message.content"), "stream=True"),
    (ask(ret='return "".join((c.choices[0].delta.content or "").strip() for c in stream if c.choices)'),
     "join the streamed pieces exactly"),  # kind: a space before punctuation
    (ask(ret='return " ".join(c.choices[0].delta.content or "" for c in stream if c.choices)'),
     "join the streamed pieces exactly"),
    (ask(ret="return stream"), "return the reply's text"),
    (ask(args="max_tokens=32, temperature=0, stream=True"), "pass max_tokens on"),
])
def test_ask_any_wrong(answer, fragment):
    caught("any_server_client", answer, fragment)


def test_ask_any_valid_other_ways():
    # the model from the list's first entry by index, the budget as max_completion_tokens, a loop
    accepted("any_server_client", '''
        from openai import OpenAI

        def ask_any(base_url, question, max_tokens=32):
            client = OpenAI(base_url=base_url.rstrip("/") + "/v1", api_key="none")
            models = list(client.models.list())
            pieces = []
            for chunk in client.chat.completions.create(
                    model=models[0].id, messages=[{"role": "user", "content": question}],
                    max_completion_tokens=max_tokens, temperature=0.0, stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
            return "".join(pieces)
    ''')


# ------------------------------------------------------------------ Exercise 2: capacity
CAPACITY_WRONG = {
    "closed-loop rows counted": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["latency_p95_s"] is not None and r["latency_p95_s"] <= p95_target
                    and not r["errors"] and not r["refused"] and not r["stalled"]]
            best = max(good, key=lambda r: (r["offered_rate"] or 0, -r["latency_p95_s"]), default=None)
            return (best["server"], best["offered_rate"]) if best else None
    ''', "a closed-loop row has no arrival rate"),
    "refusals flatter the latency": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["mode"] == "open" and r["latency_p95_s"] is not None
                    and r["latency_p95_s"] <= p95_target and not r["errors"] and not r["stalled"]]
            best = max(good, key=lambda r: (r["offered_rate"], -r["latency_p95_s"]), default=None)
            return (best["server"], best["offered_rate"]) if best else None
    ''', "refused requests (429)"),
    "the fastest row, not the highest rate": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["mode"] == "open" and r["latency_p95_s"] is not None
                    and r["latency_p95_s"] <= p95_target and not r["errors"] and not r["refused"]
                    and not r["stalled"]]
            best = min(good, key=lambda r: r["latency_p95_s"], default=None)
            return (best["server"], best["offered_rate"]) if best else None
    ''', "not the highest rate"),
    "strictly below the target": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["mode"] == "open" and r["latency_p95_s"] is not None
                    and r["latency_p95_s"] < p95_target and not r["errors"] and not r["refused"]
                    and not r["stalled"]]
            best = max(good, key=lambda r: (r["offered_rate"], -r["latency_p95_s"]), default=None)
            return (best["server"], best["offered_rate"]) if best else None
    ''', "equal meets it"),
    "ties go to the slower": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["mode"] == "open" and r["latency_p95_s"] is not None
                    and r["latency_p95_s"] <= p95_target and not r["errors"] and not r["refused"]
                    and not r["stalled"]]
            best = max(good, key=lambda r: (r["offered_rate"], r["latency_p95_s"]), default=None)
            return (best["server"], best["offered_rate"]) if best else None
    ''', "the lower p95 latency wins"),
    "the server alone": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["mode"] == "open" and r["latency_p95_s"] is not None
                    and r["latency_p95_s"] <= p95_target and not r["errors"] and not r["refused"]
                    and not r["stalled"]]
            return max(good, key=lambda r: r["offered_rate"])["server"] if good else None
    ''', "return a tuple (server, rate)"),
    "no None when nothing qualifies": ('''
        def capacity(rows, p95_target):
            good = [r for r in rows if r["mode"] == "open" and r["latency_p95_s"] is not None
                    and r["latency_p95_s"] <= p95_target and not r["errors"] and not r["refused"]
                    and not r["stalled"]]
            best = max(good, key=lambda r: (r["offered_rate"], -r["latency_p95_s"]))
            return best["server"], best["offered_rate"]
    ''', "max() arg is an empty sequence"),
}


@pytest.mark.parametrize("name", CAPACITY_WRONG)
def test_capacity_wrong(name):
    answer, fragment = CAPACITY_WRONG[name]
    caught("capacity", answer, fragment)


def test_capacity_valid_by_sorting():
    accepted("capacity", '''
        def capacity(rows, p95_target):
            def meets(r):
                return (r.get("mode") == "open" and r.get("latency_p95_s") is not None
                        and r["latency_p95_s"] <= p95_target
                        and (r.get("errors") or 0) == 0 and (r.get("refused") or 0) == 0
                        and not r.get("stalled"))
            ranked = sorted(filter(meets, rows), key=lambda r: (-r["offered_rate"], r["latency_p95_s"]))
            return (ranked[0]["server"], ranked[0]["offered_rate"]) if ranked else None
    ''')


# ------------------------------------------------------------------ Exercise 3: the router
def router_variant(*replacements) -> str:
    """The solution's router with ``(old, new)`` replacements (each must apply)."""
    source = solution("make_router")
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


ROUND_ROBIN = ('        return min(ready, key=lambda url: outstanding[url]) if ready else None',
               '        turn.append(1)\n        return ready[len(turn) % len(ready)] if ready else None')
ROUTER_WRONG = {
    "round robin, blind to load": (
        [ROUND_ROBIN, ("    outstanding = dict.fromkeys(replicas, 0)",
                       "    outstanding = dict.fromkeys(replicas, 0)\n    turn = []")],
        "send each to the replica with the fewest requests in progress"),
    "a buffering proxy": (
        [("            return StreamingResponse(relay(), status_code=upstream.status_code,",
          "            data = await upstream.aread()\n            await upstream.aclose()\n"
          "            outstanding[url] -= 1\n"
          "            return Response(data, status_code=upstream.status_code,"),
         ("                                     media_type=upstream.headers.get(\"content-type\"))\n"
          "        return last",
          "                            media_type=upstream.headers.get(\"content-type\"))\n"
          "        return last")],
        "relay each piece as it comes"),
    "re-encodes the body": (
        [("content=body, headers=headers)", "json=json.loads(body), headers=headers)")],
        "forward the request's bytes as they came"),
    "no health checks": (
        [("    healthy = dict.fromkeys(replicas, False)", "    healthy = dict.fromkeys(replicas, True)"),
         ("        await check_all()  # before the first request", "        pass"),
         ("            await check_all()\n", "            pass\n")],
        "check each replica's GET /health"),
    "health checked once, at start": (
        [("            await check_all()\n", "            pass\n")],
        "check /health every health_interval seconds"),
    "retries everything, a 500 too": (
        [("            if upstream.status_code == 429:",
          "            if upstream.status_code in (429, 500):")],
        "a request that failed with 500 was sent again"),
    "no retry of a 429": (
        [("        for _ in range(2):", "        for _ in range(1):")],
        "retry a 429 once on another replica"),
    "retries until something works": (
        [("        for _ in range(2):", "        for _ in range(5):")],
        "retry once, not more"),
    "retries on the replica that refused": (
        [("        ready = [url for url in replicas if healthy[url] and url not in tried]",
          "        ready = [url for url in replicas if healthy[url]]")],
        "retry a 429 once on another replica"),
    "drops the Authorization header": (
        [('if k.lower() in ("content-type", "authorization")}', 'if k.lower() == "content-type"}')],
        "forward the Authorization header"),
}


@pytest.mark.parametrize("name", ROUTER_WRONG)
def test_router_wrong(name):
    replacements, fragment = ROUTER_WRONG[name]
    caught("router", router_variant(*replacements), fragment)


def test_router_valid_by_prompt_affinity():
    """Prefix affinity (the prompt's start picks the replica) is the other policy the text allows."""
    accepted("router", router_variant(
        ("        return min(ready, key=lambda url: outstanding[url]) if ready else None",
         "        if not ready:\n            return None\n"
         "        import hashlib\n"
         "        start = hashlib.sha256(body[:200]).digest()[0]\n"
         "        return ready[start % len(ready)]"),
        ("    def choose(tried):", "    def choose(tried, body=b''):"),
        ("            url = choose(tried)", "            url = choose(tried, body)"),
    ))


def test_router_valid_checking_health_on_every_request():
    """Asking /health before each request, instead of in the background, is slower but valid."""
    accepted("router", router_variant(
        ("            url = choose(tried)", "            await check_all()\n            url = choose(tried)"),
    ))
