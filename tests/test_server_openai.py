"""OpenAI's API: every documented field served or refused with a 400 that names it; the answers'
shapes, logprobs, n, stop strings and streaming (course_utils/server/openai/)."""

import json

import pytest
from fastapi.testclient import TestClient

from course_utils.server import Engine, create_app

BASE = {"model": "any", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 3}

# field: (values served, values refused). Integers, floats, boundaries and null for every number field.
FIELDS = {
    "temperature": ([0, 1, 2, 0.7, 2.0, None], [-0.1, 2.01, 3, "1", True, [1]]),
    "top_p": ([0, 1, 0.5, 1.0, None], [-0.1, 1.01, 2, "0.5", False]),
    "frequency_penalty": ([-2, 2, 0, 1.5, -2.0, None], [-2.01, 3, "0"]),
    "presence_penalty": ([-2, 2, 0, -1.5, None], [2.5, -3, {}]),
    "max_tokens": ([1, 3, 2.0, None], [0, -1, 1.5, "3", 10**6, True]),
    "max_completion_tokens": ([1, 3, None], [0, 2.5, 10**9]),
    "n": ([1, 2, 8, None], [0, 9, 1.5, "2"]),
    "seed": ([0, 7, -5, 2**63, 2**64 - 1, None], [1.5, "7", 2**64, -(2**63) - 1]),
    "logprobs": ([True, False, None], ["yes", 1]),
    "stop": (["x", ["a", "b"], [], ["a"] * 4, None], [["a"] * 5, 5, [""], [1]]),
    "logit_bias": (
        [{"100": 5}, {"100": -100, "7": 100.0}, {}, None],
        [{"abc": 1}, {"100": 101}, {"100": "x"}, {str(10**9): 1}, [1]],
    ),
    "stream": ([False, None], ["yes", 1]),
    "model": (["any", "gpt-4o", None], [5, ["a"]]),
    "user": (["someone", None], [5]),
    "metadata": ([{"k": "v"}, None], [{"k": 1}, "x"]),
    "store": ([False, None], [True]),
    "service_tier": (["auto", "default", "flex", None], ["gold"]),
    "parallel_tool_calls": ([True, False, None], ["x"]),
    "prompt_cache_key": (["k", None], [1]),
    "safety_identifier": (["id", None], [1]),
    "modalities": ([["text"], None], [["text", "audio"], ["audio"]]),
    "response_format": (
        [{"type": "text"}, None, {"type": "json_object"},
         {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True}},
         {"type": "json_schema", "json_schema": {"name": "x"}}],
        [{"type": "json_schema"}, {"type": "xml"}, {"type": "json_object", "json_schema": {"name": "x"}},
         {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "not": {}}}},
         {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strin"}}}]),
    "tools": ([[], None, [{"type": "function", "function": {"name": "f"}}]],
              [[{"type": "function"}], [{"type": "web_search"}],
               [{"type": "function", "function": {"name": "a b"}}],
               [{"type": "function", "function": {"name": "f", "parameters": {"type": "strin"}}}]]),
    "tool_choice": (["none", "auto", None],
                    ["required", {"type": "function", "function": {"name": "f"}}, "maybe"]),
    "prompt_cache_retention": (["in-memory", "24h", None], ["forever"]),
    "functions": ([None], [[{"name": "f"}]]),
    "function_call": (["none", None], ["auto"]),
    "audio": ([None], [{"voice": "alloy", "format": "mp3"}]),
    "prediction": ([None], [{"type": "content", "content": "x"}]),
    "reasoning_effort": ([None], ["low"]),
    "verbosity": ([None], ["low"]),
    "web_search_options": ([None], [{}]),
}


@pytest.fixture(scope="module")
def engine(tiny_dir):
    engine = Engine(str(tiny_dir), max_new_tokens_limit=64)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def client(engine):
    return TestClient(create_app(engine))


def chat(client, **fields):
    return client.post("/v1/chat/completions", json={**BASE, **fields})


def assert_refused(response, field):
    assert response.status_code == 400, (field, response.status_code, response.text)
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"].split(".")[0] == field, error
    assert f"`{field}" in error["message"], error["message"]
    return error["message"]


@pytest.mark.parametrize("field", FIELDS)
def test_every_documented_value_is_served(client, field):
    for value in FIELDS[field][0]:
        response = chat(client, **{field: value})
        assert response.status_code == 200, (field, value, response.text)


@pytest.mark.parametrize("field", FIELDS)
def test_every_other_value_is_a_400_naming_the_field(client, field):
    for value in FIELDS[field][1]:
        assert_refused(chat(client, **{field: value}), field)


@pytest.mark.parametrize(
    "field,value,allowed",
    [
        ("temperature", 2.5, "between 0 and 2"),
        ("top_p", 1.5, "between 0 and 1"),
        ("presence_penalty", 5, "between -2 and 2"),
        ("frequency_penalty", -3, "between -2 and 2"),
        ("max_tokens", 0, ">= 1"),
        ("n", 0, "between 1 and 8"),
        ("top_logprobs", 21, "between 0 and 20"),
        ("max_tokens", 100, "between 1 and 64"),
        ("tools", [{"type": "function"}], "function"),
        ("response_format", {"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {}}}},
         "cannot enforce: [\"not\"]"),
    ],
)
def test_the_message_says_what_is_allowed(client, field, value, allowed):
    extra = {"logprobs": True} if field == "top_logprobs" else {}
    assert allowed in assert_refused(chat(client, **{field: value}, **extra), field)


def test_unknown_fields_are_refused(client):
    message = assert_refused(chat(client, temprature=0.5), "temprature")
    assert "unknown field" in message


@pytest.mark.parametrize(
    "fields,param",
    [({"top_logprobs": 2}, "top_logprobs"), ({"stream_options": {"include_usage": True}}, "stream_options")],
)
def test_fields_that_need_another(client, fields, param):
    response = chat(client, **fields)
    assert response.status_code == 400 and param in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": ""},
        ],
        [{"role": "assistant", "content": "Hi", "refusal": None, "tool_calls": None}],
        [{"role": "user", "content": "hi", "name": "bob"}],  # LangChain's multi-agent graphs name them
        [{"role": "user", "content": "Weather?"},
         {"role": "assistant", "content": None, "tool_calls": [
             {"id": "c1", "type": "function",
              "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}]},
         {"role": "tool", "content": "sunny", "tool_call_id": "c1"}],
    ],
)
def test_every_documented_message_form_is_served(client, messages):
    assert client.post("/v1/chat/completions", json={**BASE, "messages": messages}).status_code == 200


@pytest.mark.parametrize(
    "message,says",
    [
        ({"role": "tool", "content": "42"}, "tool_call_id"),
        ({"role": "function", "content": "42", "name": "f"}, "role"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}, "only text"),
        ({"role": "user", "content": "hi", "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
         "only an assistant"),
        ({"role": "assistant", "content": "x", "tool_calls": [{"id": "1"}]}, "function"),
        ({"role": "assistant", "content": None}, "content"),
        ({"role": "user", "content": None}, "content"),
        ({"role": "user"}, "content"),
    ],
)
def test_unsupported_message_forms_are_refused_with_a_reason(client, message, says):
    response = client.post("/v1/chat/completions", json={**BASE, "messages": [message]})
    assert response.status_code == 400 and says in response.json()["error"]["message"], response.text
    assert response.json()["error"]["param"].startswith("messages")


def test_the_developer_role_is_the_system_prompt(client, engine):
    as_system = chat(client, messages=[{"role": "system", "content": "Be brief."}, BASE["messages"][0]])
    as_developer = chat(client, messages=[{"role": "developer", "content": "Be brief."}, BASE["messages"][0]])
    assert as_system.json()["choices"][0]["message"] == as_developer.json()["choices"][0]["message"]


def test_answer_shape_and_usage(client):
    answer = chat(client).json()
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    choice = answer["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in {"stop", "length"}
    assert choice["logprobs"] is None
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_n_choices_and_their_usage(client):
    answer = chat(client, n=3, temperature=1.0, seed=5, max_tokens=4).json()
    assert [c["index"] for c in answer["choices"]] == [0, 1, 2]
    texts = {c["message"]["content"] for c in answer["choices"]}
    assert len(texts) > 1, "sampling with seeds 5, 6, 7 gives different answers"
    assert answer["usage"]["completion_tokens"] <= 12
    again = chat(client, n=3, temperature=1.0, seed=5, max_tokens=4).json()
    assert [c["message"] for c in again["choices"]] == [c["message"] for c in answer["choices"]], (
        "seeded: same"
    )


def test_logprobs_and_top_logprobs(client):
    choice = chat(client, logprobs=True, top_logprobs=3, max_tokens=4).json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert len(content) >= 1
    for entry in content:
        assert entry["logprob"] <= 0 and len(entry["top_logprobs"]) == 3
        assert entry["bytes"] == list(entry["token"].encode())
        assert entry["top_logprobs"][0]["logprob"] >= entry["logprob"] - 1e-6, "greedy takes the most likely"
    assert "".join(e["token"] for e in content).startswith(choice["message"]["content"][:1])


def test_the_stop_string_is_left_out_as_openai_does(client):
    free = chat(client, max_tokens=12).json()["choices"][0]["message"]["content"]
    stop = free[3:5]
    stopped = chat(client, max_tokens=12, stop=stop).json()["choices"][0]
    assert stopped["finish_reason"] == "stop"
    assert stopped["message"]["content"] == free[: free.index(stop)]
    streamed = stream_text(client, max_tokens=12, stop=[stop])
    assert streamed == stopped["message"]["content"], "the stream never shows the stop string either"


def stream_chunks(client, **fields):
    text = client.post("/v1/chat/completions", json={**BASE, "stream": True, **fields}).text
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks), blocks
    assert blocks[-1] == "data: [DONE]"
    return [json.loads(b[6:]) for b in blocks[:-1]]


def stream_text(client, **fields):
    return "".join(
        c["choices"][0]["delta"]["content"] or "" for c in stream_chunks(client, **fields) if c["choices"]
    )


def test_stream_framing_usage_and_role(client):
    chunks = stream_chunks(client, stream_options={"include_usage": True})
    content = [c for c in chunks if c["choices"]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in content)
    assert content[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
    assert all(c["choices"][0]["finish_reason"] is None for c in content[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] >= 1
    assert stream_text(client) == chat(client).json()["choices"][0]["message"]["content"]


def test_stream_with_n_and_logprobs(client):
    chunks = stream_chunks(client, n=2, temperature=1.0, seed=1, logprobs=True, top_logprobs=1, max_tokens=3)
    finished = [c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert sorted(finished) == [0, 1]
    with_logprobs = [c for c in chunks if c["choices"][0]["logprobs"]]
    assert with_logprobs and all(
        len(e["top_logprobs"]) == 1 for c in with_logprobs for e in c["choices"][0]["logprobs"]["content"]
    )


def test_models(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["object"] == "model"
