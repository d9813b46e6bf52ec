"""TGI's API: every documented parameter served or refused with a 422 that names it; the answers'
shapes, details, logprobs and streams (course_utils/server/tgi/)."""

import json
import re

import pytest
from fastapi.testclient import TestClient

from course_utils.server import Engine, create_app

# parameter: (values served, values refused), with TGI's ranges
PARAMETERS = {
    "max_new_tokens": ([1, 3, 2.0, None], [0, -3, 1.5, "5", 100_000, True]),
    "temperature": ([0.5, 1, 2, 1e-3, None], [0, -1.0, "hot", False]),
    "top_k": ([1, 5, 100_000, None], [0, -1, 2.5, "5"]),
    "top_p": ([0.5, 0.999, 1e-6, None], [0, 1, 1.0, -0.5, "x"]),
    "typical_p": ([0.5, 0.9, None], [0, 1, 1.5]),
    "repetition_penalty": ([1, 1.2, 2, 0.5, None], [0, -1.0, "x"]),
    "frequency_penalty": ([-2, 2, 0, 0.5, None], [-2.5, 3]),
    "do_sample": ([True, False, None], ["yes", 1]),
    "seed": ([0, 42, 2**64 - 1, None], [-1, 1.5, 2**64, "1"]),
    "stop": ([["."], ["a", "b", "c", "d"], [], None], [["a"] * 5, "x", [1], [""]]),
    "details": ([True, False, None], ["yes"]),
    "return_full_text": ([True, False, None], [1]),
    "top_n_tokens": ([0, 1, 5, None], [6, -1]),
    "truncate": ([1, 3, None], [0, -1, 1.5]),
    "best_of": ([1, None], [0, 2]),
    "decoder_input_details": ([False, None], [True]),
    "watermark": ([False, None], [True]),
    "grammar": ([None, {"type": "json", "value": {}}, {"type": "json", "value": {"type": "object"}},
                 {"type": "regex", "value": "[a-z]+"}, {"type": "json", "value": '{"type": "string"}'}],
                [{"type": "json", "value": {"type": "strin"}}, {"type": "regex", "value": 5},
                 {"type": "xml", "value": "x"}, {"type": "json", "value": {"not": {}}}, {"type": "json"}]),
    "adapter_id": ([None], ["my-lora"]),
}


@pytest.fixture(scope="module")
def engine(tiny_dir):
    engine = Engine(str(tiny_dir), max_new_tokens_limit=64)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def client(engine):
    return TestClient(create_app(engine))


def generate(client, route="/generate", inputs="Hello", **parameters):
    return client.post(route, json={"inputs": inputs, "parameters": {"max_new_tokens": 3, **parameters}})


def assert_refused(response, field):
    assert response.status_code == 422, (field, response.status_code, response.text)
    body = response.json()
    assert body["error_type"] == "validation" and body["error"].startswith("Input validation error: ")
    assert re.search(rf"[`.]{field}[`.]", body["error"]), body["error"]
    return body["error"]


@pytest.mark.parametrize("field", PARAMETERS)
def test_every_documented_value_is_served(client, field):
    for value in PARAMETERS[field][0]:
        response = generate(
            client, **{field: value, **({"do_sample": True} if field == "temperature" else {})}
        )
        assert response.status_code == 200, (field, value, response.text)


@pytest.mark.parametrize("route", ["/generate", "/generate_stream", "/"])
@pytest.mark.parametrize("field", PARAMETERS)
def test_every_other_value_is_a_422_naming_the_field(client, field, route):
    for value in PARAMETERS[field][1]:
        assert_refused(generate(client, route, **{field: value}), field)


@pytest.mark.parametrize(
    "field,value,allowed",
    [
        ("top_p", 1.0, "> 0 and < 1"),
        ("temperature", 0, "strictly positive"),
        ("top_k", 0, "strictly positive"),
        ("repetition_penalty", 0, "strictly positive"),
        ("frequency_penalty", 3, "between -2 and 2"),
        ("stop", ["a"] * 5, "up to 4"),
        ("max_new_tokens", 100, "between 1 and 64"),
        ("watermark", True, "not supported"),
    ],
)
def test_the_message_says_what_is_allowed(client, field, value, allowed):
    assert allowed in assert_refused(generate(client, **{field: value}), field)


@pytest.mark.parametrize(
    "body",
    [
        {"parameters": {}},
        {"inputs": ""},
        {"inputs": "   \n\t"},
        {"inputs": ["a", "list"]},
        {"inputs": "hi", "parameters": "fast"},
        {"inputs": "hi " * 3000, "parameters": {"max_new_tokens": 8}},
        {"inputs": "hi", "parameters": {"tempreature": 0.5}},
        {"inputs": "hi", "extra": 1},
    ],
)
def test_bad_bodies_are_a_clear_422_and_the_server_keeps_serving(client, body):
    response = client.post("/generate", json=body)
    assert response.status_code == 422 and response.json()["error"].startswith("Input validation error: ")
    assert generate(client).status_code == 200


def test_invalid_json(client):
    response = client.post("/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["error"]


def test_generate_with_details_logprobs_and_top_tokens(client):
    body = generate(client, max_new_tokens=4, details=True, seed=3, do_sample=True, top_n_tokens=2).json()
    details = body["details"]
    assert details["generated_tokens"] == len(details["tokens"]) <= 4 and details["seed"] == 3
    assert details["finish_reason"] in {"length", "eos_token", "stop_sequence"}
    assert all(t["logprob"] <= 0 for t in details["tokens"])
    assert [len(top) for top in details["top_tokens"]] == [2] * len(details["tokens"])
    assert "".join(t["text"] for t in details["tokens"]) == body["generated_text"]
    assert "details" not in generate(client).json() or generate(client).json()["details"] is None


def test_return_full_text_and_truncate(client):
    plain = generate(client).json()["generated_text"]
    assert generate(client, return_full_text=True).json()["generated_text"] == "Hello" + plain
    prompt = "One two three four five six seven Hello"
    whole = events(generate(client, "/generate_stream", inputs=prompt))[-1]["details"]["input_length"]
    cut = events(generate(client, "/generate_stream", inputs=prompt, truncate=2))[-1]["details"][
        "input_length"
    ]
    assert whole > 2 and cut == 2, "truncate keeps the last tokens of the prompt"


def test_stop_sequences_are_kept_in_the_text_as_tgi_does(client):
    free = generate(client, max_new_tokens=12).json()["generated_text"]
    stop = free[3:5]
    stopped = generate(client, max_new_tokens=12, stop=[stop], details=True).json()
    assert stopped["details"]["finish_reason"] == "stop_sequence"
    assert stopped["generated_text"] == free[: free.index(stop) + len(stop)]


def events(response):
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks
    return [json.loads(b.removeprefix("data: ")) for b in blocks]


def test_stream_events_in_tgi_shape(client):
    stream = events(generate(client, "/generate_stream", max_new_tokens=4, seed=1, do_sample=True))
    assert [e["index"] for e in stream] == list(range(1, len(stream) + 1))
    assert all(e["generated_text"] is None and e["details"] is None for e in stream[:-1])
    assert all(isinstance(e["token"]["logprob"], float) for e in stream)
    last = stream[-1]
    assert last["generated_text"] == "".join(e["token"]["text"] for e in stream)
    assert last["details"]["generated_tokens"] == len(stream) and last["details"]["seed"] == 1
    assert last["details"]["input_length"] >= 1


def test_stream_and_generate_agree_and_compat_route(client):
    text = generate(client, max_new_tokens=5).json()["generated_text"]
    assert events(generate(client, "/generate_stream", max_new_tokens=5))[-1]["generated_text"] == text
    answer = client.post("/", json={"inputs": "Hello", "parameters": {"max_new_tokens": 5}}).json()
    assert answer == [{"generated_text": text, "details": None}]
    streamed = events(
        client.post("/", json={"inputs": "Hello", "parameters": {"max_new_tokens": 5}, "stream": True})
    )
    assert streamed[-1]["generated_text"] == text


def test_health_and_info(client, engine):
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/info").json()
    assert info["max_total_tokens"] == engine.max_total_tokens and info["max_new_tokens"] == 64
    assert info["max_stop_sequences"] == 4 and info["max_top_n_tokens"] == 5 and info["max_best_of"] == 1
    assert info["scheduler"] == "step" and "/" not in info["model_id"]
