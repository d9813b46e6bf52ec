"""Errors in each API's shape, and the last resort: a 500 that leaks nothing and keeps the
connection usable (course_utils/server/errors.py)."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from course_utils.server import BackgroundServer, Engine, create_app
from course_utils.server.errors import describe_validation_error

VALID = {"inputs": "Hello", "parameters": {"max_new_tokens": 3}}
CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}
SECRET = "secret detail at /home/someone/model.py line 7"


@pytest.fixture(scope="module")
def engine(tiny_dir):
    engine = Engine(str(tiny_dir))
    yield engine
    engine.close()


def broken_model(engine, monkeypatch, times=None):
    """The model raises (every time, or the first ``times`` times)."""
    original, calls = engine.model.forward, []

    def forward(*args, **kwargs):
        calls.append(1)
        if times is None or len(calls) <= times:
            raise RuntimeError(SECRET)
        return original(*args, **kwargs)

    monkeypatch.setattr(engine.model, "forward", forward)


@pytest.mark.parametrize("endpoint", ["/generate", "/generate_stream", "/", "/v1/chat/completions"])
def test_model_errors_are_a_500_that_leaks_nothing(engine, monkeypatch, endpoint):
    broken_model(engine, monkeypatch)
    client = TestClient(create_app(engine), raise_server_exceptions=False)
    response = client.post(endpoint, json=CHAT if endpoint.startswith("/v1") else VALID)
    assert "secret" not in response.text and "/home" not in response.text
    if endpoint == "/generate_stream":  # the stream had started: the error is its last event
        assert json.loads(response.text.strip().splitlines()[-1][5:])["error_type"] == "generation"
    elif endpoint.startswith("/v1"):
        assert response.status_code == 500 and response.json()["error"]["type"] == "generation"
    else:
        assert response.status_code == 500 and response.json()["error_type"] == "generation"
    monkeypatch.undo()
    assert client.post("/generate", json=VALID).status_code == 200


def test_a_500_leaves_the_keep_alive_connection_usable(engine, monkeypatch):
    broken_model(engine, monkeypatch, times=1)
    with BackgroundServer(create_app(engine)) as server, httpx.Client(base_url=server.url) as http:
        first = http.post("/generate", json=VALID)
        assert first.status_code == 500 and first.json()["error_type"] == "generation"
        assert http.post("/generate", json=VALID).status_code == 200, "the same connection still works"


def test_an_unexpected_error_outside_the_model_is_caught_too(engine, monkeypatch):
    app = create_app(engine)
    monkeypatch.setattr(app.state.serving, "admit", lambda *a, **k: (_ for _ in ()).throw(KeyError(SECRET)))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as http:
        response = http.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 500 and "secret" not in response.text
        assert response.json()["error"]["type"] == "generation"
        assert http.get("/health").status_code == 200, "the same connection still works"


def test_unknown_routes_and_methods_answer_in_the_apis_shape(engine):
    client = TestClient(create_app(engine))
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error_type"] == "not_found"
    message = missing.json()["error"]
    assert message.startswith("Not found: GET /nowhere. This server serves: "), message
    for served in ("GET /health", "POST /generate", "POST /v1/chat/completions", "POST /v1/completions",
                   "GET /v1/models", "POST /tokenize"):
        assert served in message, (served, message)
    wrong = client.get("/generate")
    assert wrong.status_code == 405 and wrong.json()["error_type"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]
    assert client.get("/v1/nowhere").json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    "errors,message,param",
    [
        ([{"type": "json_invalid", "loc": ("body", 5), "msg": "x"}], "the body is not valid JSON", None),
        (
            [{"type": "less_than_equal", "loc": ("body", "top_p"), "msg": "x", "input": 3, "ctx": {"le": 1}}],
            "`top_p` must be <= 1, got 3",
            "top_p",
        ),
        (
            [
                {
                    "type": "value_error",
                    "loc": ("body", "parameters", "stop", "list[str]"),
                    "msg": "Value error, too many",
                }
            ],
            "`parameters.stop`: too many",
            "parameters.stop",
        ),
        (
            [{"type": "extra_forbidden", "loc": ("body", "tempreature"), "msg": "x"}],
            "unknown field `tempreature`",
            "tempreature",
        ),
        ([], "the body is invalid", None),
    ],
)
def test_validation_errors_become_sentences_naming_the_field(errors, message, param):
    text, named = describe_validation_error(errors)
    assert text.startswith(message) and named == param
