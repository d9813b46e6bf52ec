"""The reference server: TGI shapes, a clear 4xx for every bad input, and a free event loop."""

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from course_utils.server import BackgroundServer, Engine, create_app, create_naive_app, free_port

BAD_BODIES = {
    "missing inputs": {"parameters": {}},
    "empty inputs": {"inputs": ""},
    "whitespace inputs": {"inputs": "   \n\t"},
    "inputs not a string": {"inputs": ["a", "list"]},
    "parameters not an object": {"inputs": "hi", "parameters": "fast"},
    "max_new_tokens as text": {"inputs": "hi", "parameters": {"max_new_tokens": "5"}},
    "max_new_tokens zero": {"inputs": "hi", "parameters": {"max_new_tokens": 0}},
    "max_new_tokens negative": {"inputs": "hi", "parameters": {"max_new_tokens": -3}},
    "max_new_tokens above the limit": {"inputs": "hi", "parameters": {"max_new_tokens": 100_000}},
    "prompt beyond the context": {"inputs": "hi " * 3000, "parameters": {"max_new_tokens": 8}},
    "temperature zero with sampling": {"inputs": "hi", "parameters": {"do_sample": True, "temperature": 0}},
    "negative temperature": {"inputs": "hi", "parameters": {"temperature": -1.0}},
    "top_p zero": {"inputs": "hi", "parameters": {"top_p": 0}},
    "top_p above one": {"inputs": "hi", "parameters": {"top_p": 1.2}},
    "five stop strings": {"inputs": "hi", "parameters": {"stop": ["a", "b", "c", "d", "e"]}},
    "stop not strings": {"inputs": "hi", "parameters": {"stop": [1, 2]}},
}
VALID = {"inputs": "Hello", "parameters": {"max_new_tokens": 3}}
CHAT = {"model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}


@pytest.fixture(scope="module")
def tiny_engine(tiny_dir):
    return Engine(str(tiny_dir))


@pytest.fixture(scope="module")
def client(tiny_engine):
    return TestClient(create_app(tiny_engine))


def _assert_validation_error(response):
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_type"] == "validation"
    assert body["error"].startswith("Input validation error: ")


@pytest.mark.parametrize("endpoint", ["/generate", "/generate_stream"])
@pytest.mark.parametrize("name", BAD_BODIES)
def test_bad_input_is_a_clear_422_and_the_server_keeps_serving(client, endpoint, name):
    _assert_validation_error(client.post(endpoint, json=BAD_BODIES[name]))
    assert client.post("/generate", json=VALID).status_code == 200


def test_invalid_json(client):
    response = client.post("/generate", content=b"{not json",
                           headers={"content-type": "application/json"})
    _assert_validation_error(response)
    assert "not valid JSON" in response.json()["error"]


def test_generate_shape(client):
    body = client.post("/generate", json={"inputs": "Hello", "parameters": {
        "max_new_tokens": 4, "details": True, "seed": 3, "do_sample": True}}).json()
    assert isinstance(body["generated_text"], str)
    details = body["details"]
    assert details["generated_tokens"] == len(details["tokens"]) <= 4
    assert details["finish_reason"] in {"length", "eos_token", "stop_sequence"}
    assert details["seed"] == 3
    assert "details" not in client.post("/generate", json=VALID).json()


def test_unknown_tgi_options_are_ignored(client):
    response = client.post("/generate", json={"inputs": "Hi", "parameters": {
        "max_new_tokens": 2, "watermark": False, "truncate": None, "best_of": None}})
    assert response.status_code == 200


def test_stream_events_in_tgi_shape(client):
    response = client.post("/generate_stream", json={"inputs": "Hello", "parameters": {"max_new_tokens": 4}})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks
    events = [json.loads(b.removeprefix("data: ")) for b in blocks]
    assert [e["index"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["generated_text"] is None for e in events[:-1])
    last = events[-1]
    assert last["generated_text"] == "".join(e["token"]["text"] for e in events)
    assert last["details"]["generated_tokens"] == len(events)


def test_stream_and_generate_agree_greedily(client):
    request = {"inputs": "Hello there", "parameters": {"max_new_tokens": 5}}
    text = client.post("/generate", json=request).json()["generated_text"]
    last = json.loads(client.post("/generate_stream", json=request).text.strip().split("\n\n")[-1][6:])
    assert last["generated_text"] == text


def test_info_reports_the_limits(client, tiny_engine):
    info = client.get("/info").json()
    assert info["max_total_tokens"] == tiny_engine.max_total_tokens
    assert info["max_new_tokens"] == 512 and info["max_stop_sequences"] == 4


@pytest.mark.parametrize("endpoint", ["/generate", "/generate_stream", "/v1/chat/completions"])
def test_internal_errors_leak_nothing(tiny_engine, monkeypatch, endpoint):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail at /home/someone/model.py line 7")

    monkeypatch.setattr(tiny_engine.model, "generate", broken)
    body = VALID if endpoint != "/v1/chat/completions" else CHAT
    response = TestClient(create_app(tiny_engine), raise_server_exceptions=False).post(endpoint, json=body)
    assert "secret" not in response.text and "/home" not in response.text
    if endpoint == "/generate":
        assert response.status_code == 500 and response.json()["error_type"] == "generation"
    elif endpoint == "/generate_stream":  # the stream had started: the error is its last event
        assert json.loads(response.text.strip().splitlines()[-1][5:])["error_type"] == "generation"
    else:
        assert response.status_code == 500 and response.json()["error"]["type"] == "generation"
    monkeypatch.undo()
    assert TestClient(create_app(tiny_engine)).post("/generate", json=VALID).status_code == 200


@pytest.fixture(scope="module")
def live_server(tiny_engine):
    """The fixed app on a real uvicorn, on loopback, in a thread; stopped after the tests."""
    with BackgroundServer(create_app(tiny_engine)) as server:
        yield server.url


def test_background_server_stops_and_frees_its_port(tiny_engine):
    server = BackgroundServer(create_app(tiny_engine))
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    server.stop()
    assert not server.running
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=2)


def test_background_server_names_the_fix_when_the_port_is_taken(tiny_engine):
    with BackgroundServer(create_app(tiny_engine)) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="is in use"):
            BackgroundServer(create_app(tiny_engine), port=port, log_level="critical")
        assert httpx.get(f"{first.url}/health").status_code == 200


@pytest.mark.parametrize("name", BAD_BODIES)
def test_bad_input_over_real_http(live_server, name):
    with httpx.Client(base_url=live_server, timeout=30) as http:
        _assert_validation_error(http.post("/generate", json=BAD_BODIES[name]))
        assert http.post("/generate", json=VALID).status_code == 200
        assert http.get("/health").json() == {"status": "ok"}


def _generation_running_when_health_answers(app, engine):
    """Start a long generation, ask /health while it runs; was the answer still unfinished then?

    "Finished" is the moment the engine hands the request its summary, recorded by wrapping
    ``engine.events``; not the order in which two client threads wake up (once a blocked event
    loop frees itself it sends both answers at once, and either thread can be first).
    """
    while engine.admitted or engine.running_batch_size:  # an earlier test's generation may be ending
        time.sleep(0.01)
    summarised = threading.Event()

    def recording_events(job):
        for event in type(engine).events(engine, job):
            if event.get("summary"):
                summarised.set()
            yield event

    engine.events = recording_events
    server = BackgroundServer(app)
    url = server.url

    def long_generation():
        if app.title.startswith("naive"):
            httpx.post(f"{url}/generate", params={"prompt": "Write a long story about a dragon.",
                                                  "max_new_tokens": 64}, timeout=120)
        else:
            httpx.post(f"{url}/generate", timeout=120, json={
                "inputs": "Write a long story about a dragon.", "parameters": {"max_new_tokens": 64}})

    try:
        worker = threading.Thread(target=long_generation)
        worker.start()
        while engine.running_batch_size == 0:  # the generation has started
            time.sleep(0.01)
        assert httpx.get(f"{url}/health", timeout=120).status_code == 200
        still_running = not summarised.is_set()
        worker.join()
        assert summarised.is_set()  # the wrapper did see the request
    finally:
        server.stop()
        del engine.events
    return still_running


@pytest.fixture(scope="module")
def real_engine(course_model_dir):
    return Engine(str(course_model_dir))


def test_health_answers_while_a_long_generation_runs(real_engine):
    assert _generation_running_when_health_answers(create_app(real_engine), real_engine)


def test_the_naive_server_makes_health_wait(real_engine):
    # What lesson 03 shows: an async endpoint that calls the model blocks the event loop.
    assert not _generation_running_when_health_answers(create_naive_app(real_engine), real_engine)


def test_cli_serves_on_loopback(tiny_dir):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "course_utils.server", "--model", str(tiny_dir),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        info = httpx.get(f"http://127.0.0.1:{port}/info").json()
        assert info["model_id"] == tiny_dir.name  # the folder's name: no file paths in answers
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize("field,value", [("temperature", 2), ("top_p", 1), ("repetition_penalty", 2),
                                         ("temperature", 1.5)])
def test_integers_in_number_fields_are_numbers(client, field, value):
    body = {"inputs": "Hello", "parameters": {"max_new_tokens": 2, "do_sample": True, field: value}}
    assert client.post("/generate", json=body).status_code == 200


def test_a_500_leaves_the_connection_usable(tiny_engine, monkeypatch):
    calls = []
    original = tiny_engine.model.generate

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(tiny_engine.model, "generate", fails_once)
    with BackgroundServer(create_app(tiny_engine)) as server, httpx.Client(base_url=server.url) as http:
        first = http.post("/generate", json=VALID)
        assert first.status_code == 500 and first.json()["error_type"] == "generation"
        second = http.post("/generate", json=VALID)  # the same keep-alive connection
        assert second.status_code == 200
