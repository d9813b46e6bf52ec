"""The optional API key and the exposure warning (course_utils/server/auth.py)."""

from fastapi.testclient import TestClient

from course_utils.server import Engine, create_app
from course_utils.server.auth import exposure_warning

CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 2}


def test_api_key(tiny_dir):
    engine = Engine(str(tiny_dir))
    try:
        client = TestClient(create_app(engine, api_key="s3cret"))
        assert client.get("/health").status_code == 200, "health needs no key"
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}]:
            response = client.post("/v1/chat/completions", json=CHAT, headers=headers)
            assert response.status_code == 401 and "API key" in response.json()["error"]["message"]
            assert response.headers["www-authenticate"] == "Bearer"
            for route in ["/generate", "/info", "/metrics"]:
                assert client.post(route, json={"inputs": "Hi"}, headers=headers).status_code in (401, 405)
                assert client.get(route, headers=headers).status_code in (401, 405)
        good = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/chat/completions", json=CHAT, headers=good).status_code == 200
        assert client.get("/v1/models", headers=good).status_code == 200
    finally:
        engine.close()


def test_exposure_warning():
    assert exposure_warning("127.0.0.1", None) is None and exposure_warning("0.0.0.0", "key") is None
    assert "without an API key" in exposure_warning("0.0.0.0", None)
