"""The body-size limit: 413 before the body is read (course_utils/server/limits.py)."""

import pytest
from fastapi.testclient import TestClient

from course_utils.server import Engine, create_app


@pytest.fixture(scope="module")
def client(tiny_dir):
    engine = Engine(str(tiny_dir))
    yield TestClient(create_app(engine, max_body_bytes=64 * 1024))
    engine.close()


def test_a_body_over_the_limit_gets_413_in_the_apis_shape(client):
    response = client.post("/generate", json={"inputs": "x" * (70 * 1024)})
    assert response.status_code == 413 and response.json()["error_type"] == "validation"
    assert "65536 bytes" in response.json()["error"]


def test_a_chunked_body_is_counted_as_it_comes(client):
    def chunks():  # no Content-Length
        for _ in range(100):
            yield b" " * 1024

    response = client.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]
    assert (
        client.post("/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}}).status_code
        == 200
    )


def test_the_limit_is_reported(client):
    assert client.get("/info").json()["max_body_bytes"] == 64 * 1024
