"""The reference server under bad input, fuzzing, overload and a soak: it keeps working and leaks nothing.

The figures these tests print (requests fuzzed, faults injected, requests shed, errors) are the ones
in the README's Reliability section; run ``pytest tests/test_server_fuzz.py -s`` to see them.
"""

import os
import random
import threading
import time
from collections import Counter

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from course_utils.server import BackgroundServer, Engine, create_app
from course_utils.server.auth import exposure_warning

LEAKS = ("Traceback", 'File "', "/home", "/root", "site-packages", ".py", "Errno")
FUZZ_EXAMPLES = 70  # per operation; 11 operations


def _small_app():
    """The server under test. Generation is capped small: the fuzzer asks for every length, and
    gets 422 beyond 8 tokens. Built at import, because schemathesis reads the schema then."""
    from course_utils.models import tiny_model_path

    engine = Engine(
        str(tiny_model_path()), max_new_tokens_limit=8, max_total_tokens=256, max_batch_size=4
    )
    return create_app(engine, max_body_bytes=64 * 1024)


APP = _small_app()


@pytest.fixture(scope="module")
def app():
    return APP


@pytest.fixture(scope="module")
def small_engine(app):
    return app.state.engine


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app, raise_server_exceptions=False)


def _leaks_nothing(response):
    for marker in LEAKS:
        assert marker not in response.text, f"{marker!r} in {response.text[:300]}"


# ---------------------------------------------------------------- property-based fuzzing of our own schema
fuzzed = Counter()


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_fuzz_every_endpoint(case):
    response = case.call(timeout=60)  # a busy CI machine, not a hang (a hang still fails)
    fuzzed[(case.method, case.path, response.status_code)] += 1
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    _leaks_nothing(response)


def test_fuzzing_covered_every_endpoint_and_prints_its_figures():
    operations = {(method, path) for method, path, _ in fuzzed}
    total = sum(fuzzed.values())
    by_status = Counter()
    for (_, _, status), n in fuzzed.items():
        by_status[status] += n
    print(
        f"\nfuzzed: {total} requests over {len(operations)} operations; "
        f"by status: {dict(sorted(by_status.items()))}"
    )
    if not fuzzed:
        pytest.skip("run together with test_fuzz_every_endpoint")
    documented = {
        ("GET", "/health"),
        ("GET", "/info"),
        ("GET", "/metrics"),
        ("GET", "/v1/models"),
        ("POST", "/generate"),
        ("POST", "/generate_stream"),
        ("POST", "/"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("POST", "/tokenize"),
        ("POST", "/detokenize"),
    }
    assert documented <= operations, documented - operations
    assert total >= 500
    assert not any(status >= 500 for status in by_status)


# ---------------------------------------------------------------- bad input beyond lesson 03's list
RAW_BODIES = {
    "NaN temperature": b'{"inputs": "hi", "parameters": {"temperature": NaN, "do_sample": true}}',
    "Infinity top_p": b'{"inputs": "hi", "parameters": {"top_p": Infinity}}',
    "-Infinity repetition_penalty": b'{"inputs": "hi", "parameters": {"repetition_penalty": -Infinity}}',
    "deeply nested": b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested parameters": b'{"inputs": "hi", "parameters": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
    "a number as the body": b"42",
    "a list as the body": b'["hi"]',
    "not UTF-8": b'{"inputs": "\xff\xfe"}',
    "empty body": b"",
}


@pytest.mark.parametrize("endpoint", ["/generate", "/generate_stream", "/", "/v1/chat/completions"])
@pytest.mark.parametrize("name", RAW_BODIES)
def test_malformed_bodies_get_a_clear_4xx(client, endpoint, name):
    response = client.post(endpoint, content=RAW_BODIES[name], headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:200])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    message = body["error"]["message"] if endpoint.startswith("/v1/") else body["error"]
    assert message and isinstance(message, str)
    _leaks_nothing(response)


def test_huge_bodies_get_413_before_they_are_read(client):
    big = {"inputs": "x" * (70 * 1024)}
    response = client.post("/generate", json=big)
    assert response.status_code == 413 and response.json()["error_type"] == "validation"

    def chunks():  # no Content-Length: the limit counts bytes as they come
        for _ in range(100):
            yield b" " * 1024

    response = client.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]
    after = client.post("/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
    assert after.status_code == 200


WRONG_TYPES = [{"x": 1}, [1, 2], True, "text", None, 1e308, -(2**70)]


@pytest.mark.parametrize(
    "field",
    [
        "inputs",
        "parameters",
        "max_new_tokens",
        "do_sample",
        "temperature",
        "top_k",
        "top_p",
        "repetition_penalty",
        "stop",
        "seed",
        "details",
    ],
)
def test_unexpected_types_everywhere_tgi(client, field):
    for value in WRONG_TYPES:
        if field in ("inputs", "parameters"):
            body = {"inputs": "hi", "parameters": {"max_new_tokens": 2}, field: value}
        else:
            body = {"inputs": "hi", "parameters": {"max_new_tokens": 2, field: value}}
        response = client.post("/generate", json=body)
        assert response.status_code in (200, 422), (field, value, response.status_code, response.text[:200])
        _leaks_nothing(response)


@pytest.mark.parametrize(
    "field",
    [
        "model",
        "messages",
        "max_tokens",
        "temperature",
        "top_p",
        "seed",
        "stop",
        "n",
        "stream",
        "stream_options",
    ],
)
def test_unexpected_types_everywhere_openai(client, field):
    for value in WRONG_TYPES:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, field: value}
        response = client.post("/v1/chat/completions", json=body)
        assert response.status_code in (200, 400), (field, value, response.status_code, response.text[:200])
        _leaks_nothing(response)


@pytest.mark.parametrize(
    "message",
    [
        {"role": "tool", "content": "hi"},
        {"role": "", "content": "hi"},  # developer is allowed (OpenAI's system)
        {"role": "user", "content": None},
        {"role": "user", "content": {"text": "hi"}},
        {"role": "user", "content": [{"type": "image_url", "image_url": "http://x"}]},
        {"role": "user", "content": [1, 2]},
        {"content": "hi"},
        {"role": "user"},
        "hi",
        None,
    ],
)
def test_bad_messages_are_400(client, message):
    response = client.post("/v1/chat/completions", json={"messages": [message], "max_tokens": 2})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    _leaks_nothing(response)


def test_oversized_json_within_the_body_limit(client):
    response = client.post("/generate", json={"inputs": "hi", "parameters": {"stop": ["a"] * 5000}})
    assert response.status_code == 422 and "up to 4 stop sequences" in response.json()["error"]
    many = [{"role": "user", "content": "hi"}] * 1000  # within the body limit, beyond the context
    response = client.post("/v1/chat/completions", json={"messages": many})
    assert response.status_code == 400  # the prompt is beyond the context
    _leaks_nothing(response)


def test_unknown_routes_and_methods_answer_in_our_shape(client):
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error_type"] == "not_found"
    says = missing.json()["error"]
    assert says.startswith("Not found: GET /nowhere. This server serves: ") and "POST /generate" in says
    wrong = client.get("/generate")
    assert wrong.status_code == 405 and wrong.json()["error_type"] == "method_not_allowed"
    assert client.get("/v1/nowhere").json()["error"]["type"] == "not_found"


# ---------------------------------------------------------------- security defaults
def test_security_defaults(client, small_engine):
    info = client.get("/info").json()
    assert info["max_body_bytes"] == 64 * 1024 and info["max_new_tokens"] == 8
    assert info["max_input_tokens"] == 255 and info["max_total_tokens"] == 256
    assert "/" not in info["model_id"], "no file paths in /info"
    preflight = client.options(
        "/generate", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers, "CORS is off by default"
    allowed = TestClient(create_app(small_engine, cors_origins=["http://localhost:3000"])).options(
        "/generate", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert exposure_warning("127.0.0.1", None) is None and exposure_warning("0.0.0.0", "key") is None
    assert "without an API key" in exposure_warning("0.0.0.0", None)


# ---------------------------------------------------------------- a bounded soak
def _rss_mb():
    with open(f"/proc/{os.getpid()}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads memory from /proc (Linux)")
def test_soak_mixed_traffic(tiny_dir):
    """Valid, invalid, streamed, cancelled and overloading requests for ``COURSE_SOAK_SECONDS``
    (20 s by default; the README's figure comes from a longer run); the server stays well."""
    seconds = float(os.environ.get("COURSE_SOAK_SECONDS", "20"))
    engine = Engine(
        str(tiny_dir),
        max_new_tokens_limit=32,
        max_batch_size=4,
        max_concurrent_requests=5,
        request_timeout=30,
    )
    counts = Counter()
    lock = threading.Lock()
    rng = random.Random(7)
    stop_at = time.monotonic() + seconds

    def note(kind):
        with lock:
            counts[kind] += 1

    with BackgroundServer(create_app(engine, max_body_bytes=16 * 1024)) as server:
        url = server.url

        def worker(seed):
            local = random.Random(seed)
            with httpx.Client(base_url=url, timeout=60) as http:
                while time.monotonic() < stop_at:
                    kind = local.choice(["valid", "invalid", "stream", "cancel", "chat", "huge"])
                    if kind == "valid":
                        r = http.post(
                            "/generate",
                            json={"inputs": "Hello", "parameters": {"max_new_tokens": local.randint(1, 32)}},
                        )
                    elif kind == "invalid":
                        r = http.post("/generate", json={"inputs": "", "parameters": {"top_p": 7}})
                    elif kind == "chat":
                        r = http.post(
                            "/v1/chat/completions",
                            json={
                                "messages": [{"role": "user", "content": "Hi"}],
                                "max_tokens": 8,
                                "stream": True,
                            },
                        )
                    elif kind == "huge":
                        r = http.post(
                            "/generate", content=b"x" * 20_000, headers={"content-type": "application/json"}
                        )
                    else:
                        story = {"inputs": "Tell a story", "parameters": {"max_new_tokens": 32}}
                        with http.stream("POST", "/generate_stream", json=story) as r:
                            for i, _line in enumerate(r.iter_lines()):
                                if kind == "cancel" and i >= 2:
                                    break  # the client goes away mid-stream
                    note(f"{kind} {r.status_code}")
                    if r.status_code == 429:  # shed: back off, as a well-behaved client does
                        time.sleep(local.uniform(0.1, 0.3))
                    time.sleep(0.01)  # a little think time between requests

        warm = threading.Thread(target=worker, args=(0,))
        warm.start()
        time.sleep(min(10.0, seconds / 4))  # memory after warm-up: model loaded, caches filled
        rss_start = _rss_mb()
        threads = [threading.Thread(target=worker, args=(rng.random(),)) for _ in range(7)]
        for t in threads:
            t.start()
        for t in [warm, *threads]:
            t.join(120)
        rss_end = _rss_mb()
        for _ in range(500):
            if engine.admitted == 0:
                break
            time.sleep(0.01)
        health = httpx.get(f"{url}/health").json()
        final = httpx.post(f"{url}/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
    total = sum(counts.values())
    shed = sum(n for k, n in counts.items() if k.endswith(" 429"))
    server_errors = sum(n for k, n in counts.items() if k.split()[-1].startswith("5"))
    print(
        f"\nsoak: {total} requests in {seconds:g} s; {dict(sorted(counts.items()))}; shed (429): {shed}; "
        f"5xx: {server_errors}; RSS {rss_start:.0f} -> {rss_end:.0f} MB"
    )
    assert server_errors == 0
    assert health == {"status": "ok"} and final.status_code == 200
    assert engine.admitted == 0, "a request still holds a slot"
    assert rss_end - rss_start < 150, f"memory grew by {rss_end - rss_start:.0f} MB"
    assert counts["valid 200"] > 0 and counts["cancel 200"] > 0 and counts["invalid 422"] > 0
    assert counts["huge 413"] > 0
