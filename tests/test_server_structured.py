"""Structured output and tool calls, with the real clients unchanged: openai (``parse``, JSON
schemas, tools, streamed tool calls), LangChain (``with_structured_output``, ``bind_tools``,
``OpenAI``), TGI's ``grammar``; and the legacy ``/v1/completions``, ``/tokenize``, ``/detokenize``.

The tiny random model answers nonsense, which is the point: whatever it would write, the grammar
keeps only what the schema allows, so every answer must validate (``jsonschema``), or end because
its token budget did (``finish_reason: "length"``).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from jsonschema import validate
from pydantic import BaseModel, Field

from course_utils.server import BackgroundServer, Engine, create_app

PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"], "additionalProperties": False}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 8},
                                                    "unit": {"enum": ["C", "F"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
SMALL = {"type": "integer", "minimum": 0, "maximum": 99}
ADD = {"type": "function", "function": {
    "name": "add", "parameters": {"type": "object", "properties": {"a": SMALL, "b": SMALL},
                                  "required": ["a", "b"], "additionalProperties": False}}}
ASK = [{"role": "user", "content": "What is the weather in Oslo?"}]


class Person(BaseModel):
    name: str = Field(max_length=10)
    age: int = Field(ge=0, le=120)


@pytest.fixture(scope="module")
def live(tiny_dir):
    engine = Engine(str(tiny_dir), max_batch_size=8)
    with BackgroundServer(create_app(engine)) as server:
        yield server.url
    engine.close()


@pytest.fixture(scope="module")
def client(live):
    from openai import OpenAI

    return OpenAI(base_url=f"{live}/v1", api_key="unused", max_retries=0)


def schema_format(schema, strict=True):
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": strict}}


# ---------------------------------------------------------------- response_format
def test_parse_with_a_pydantic_model(client):
    reply = client.chat.completions.parse(model="course", messages=ASK, response_format=Person, max_tokens=60)
    assert reply.choices[0].finish_reason == "stop", reply.choices[0].message.content
    person = reply.choices[0].message.parsed
    assert isinstance(person, Person) and 0 <= person.age <= 120


@pytest.mark.parametrize("strict", [True, False])
def test_json_schema_streamed_and_not(client, strict):
    whole = client.chat.completions.create(model="course", messages=ASK, max_tokens=60,
                                           response_format=schema_format(PERSON, strict))
    validate(json.loads(whole.choices[0].message.content), PERSON)
    assert list(json.loads(whole.choices[0].message.content)) == ["name", "age"]  # the schema's order
    stream = client.chat.completions.create(model="course", messages=ASK, max_tokens=60, stream=True,
                                            response_format=schema_format(PERSON, strict))
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == whole.choices[0].message.content  # greedy: the same answer, streamed
    validate(json.loads(text), PERSON)


def test_json_object(client):
    reply = client.chat.completions.create(model="course", messages=ASK, max_tokens=40,
                                           response_format={"type": "json_object"})
    choice = reply.choices[0]
    if choice.finish_reason == "stop":
        assert isinstance(json.loads(choice.message.content), dict)
    else:  # the budget ended inside the object: what the client gets is the text so far
        assert choice.finish_reason == "length" and choice.message.content.startswith("{")


@pytest.mark.parametrize("schema", [
    {},  # any JSON value: vLLM once looped forever on it
    {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {
        "type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}}, "required": ["v"]}},
     "$ref": "#/$defs/node"},  # recursive
    {"type": "object", "properties": {"w": {"enum": [f"word{i}" for i in range(1000)]}}, "required": ["w"],
     "additionalProperties": False},  # a large enum
], ids=["empty", "recursive", "enum1000"])
def test_hard_schemas_terminate_with_valid_or_budget_ended_answers(client, schema):
    reply = client.chat.completions.create(model="course", messages=ASK, max_tokens=30,
                                           response_format=schema_format(schema))
    choice = reply.choices[0]
    assert choice.finish_reason in ("stop", "length")
    if choice.finish_reason == "stop":
        validate(json.loads(choice.message.content), schema)


@pytest.mark.parametrize("schema, says", [
    ({"type": "object", "not": {"required": ["x"]}}, 'cannot enforce: ["not"]'),
    ({"type": "array", "uniqueItems": True}, '["uniqueItems"]'),
    ({"type": "strin"}, "not a valid JSON Schema"),
    ({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}, "does not exist"),
])
def test_a_schema_that_cannot_be_enforced_is_a_400_naming_it(client, schema, says):
    from openai import BadRequestError

    with pytest.raises(BadRequestError) as caught:
        client.chat.completions.create(model="course", messages=ASK, max_tokens=5,
                                       response_format=schema_format(schema))
    error = caught.value.body
    assert error["param"] == "response_format" and says in error["message"], error


def test_the_end_token_is_not_in_logprobs_nor_counted(client):
    reply = client.chat.completions.create(model="course", messages=ASK, max_tokens=60, logprobs=True,
                                           response_format=schema_format(PERSON))
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"  # the grammar ended it: the end-of-turn token came last
    tokens = [t.token for t in choice.logprobs.content]
    assert "".join(tokens) == choice.message.content and "<|im_end|>" not in tokens
    assert reply.usage.completion_tokens == len(tokens)


# ---------------------------------------------------------------- tools
def _check_calls(message, tools):
    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    assert message.tool_calls, message
    for call in message.tool_calls:
        assert call.type == "function" and call.id and call.function.name in by_name
        validate(json.loads(call.function.arguments), by_name[call.function.name])


def test_tool_choice_required_and_named(client):
    reply = client.chat.completions.create(model="course", messages=ASK, tools=[WEATHER, ADD],
                                           tool_choice="required", parallel_tool_calls=False, max_tokens=80)
    assert reply.choices[0].finish_reason == "tool_calls"
    _check_calls(reply.choices[0].message, [WEATHER, ADD])
    assert len(reply.choices[0].message.tool_calls) == 1
    named = client.chat.completions.create(model="course", messages=ASK, tools=[WEATHER, ADD], max_tokens=80,
                                           tool_choice={"type": "function", "function": {"name": "add"}},
                                           parallel_tool_calls=False)
    _check_calls(named.choices[0].message, [ADD])
    assert {c.function.name for c in named.choices[0].message.tool_calls} == {"add"}


def test_tool_choice_none_and_auto(client):
    none = client.chat.completions.create(model="course", messages=ASK, tools=[WEATHER], tool_choice="none",
                                          max_tokens=10)
    assert none.choices[0].message.tool_calls is None and none.choices[0].finish_reason in ("stop", "length")
    auto = client.chat.completions.create(model="course", messages=ASK, tools=[WEATHER], max_tokens=80)
    message = auto.choices[0].message
    if message.tool_calls:  # auto: the model chose; either way the answer is one of the two forms
        _check_calls(message, [WEATHER])
    else:
        assert not (message.content or "").startswith("<")


def test_a_tool_round_trip(client):
    first = client.chat.completions.create(model="course", messages=ASK, tools=[WEATHER],
                                           tool_choice="required", parallel_tool_calls=False, max_tokens=80)
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [first.choices[0].message.model_dump(exclude_none=True),
                      {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    second = client.chat.completions.create(model="course", messages=messages, tools=[WEATHER], max_tokens=8)
    assert second.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_streamed_tool_calls_as_openai_sends_them(client):
    stream = client.chat.completions.create(model="course", messages=ASK, tools=[WEATHER],
                                            tool_choice="required", parallel_tool_calls=False, max_tokens=80,
                                            stream=True)
    calls, finish = {}, None
    for chunk in stream:
        if not chunk.choices:
            continue
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = entry["id"] or delta.id
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and len(calls) == 1
    assert calls[0]["id"] and calls[0]["name"] == "get_weather"
    validate(json.loads(calls[0]["arguments"]), WEATHER["function"]["parameters"])


def test_langchain_structured_output_and_tools(live):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{live}/v1", api_key="unused", model="course", max_tokens=80, max_retries=0)
    for method in ("json_schema", "function_calling"):
        # strict: no property beyond the model's (a random model would add some until its budget ends)
        person = llm.with_structured_output(Person, method=method, strict=True).invoke("Describe a person.")
        assert isinstance(person, Person), method
    answer = llm.bind_tools([WEATHER], tool_choice="get_weather").invoke("Weather in Oslo?")
    assert answer.tool_calls and answer.tool_calls[0]["name"] == "get_weather"
    validate(answer.tool_calls[0]["args"], WEATHER["function"]["parameters"])


# ---------------------------------------------------------------- TGI's grammar
def test_tgi_grammar_regex_and_json(live):
    regex = {"type": "regex", "value": r"[0-9]{4}-[0-9]{2}-[0-9]{2}"}
    body = {"inputs": "The date today is", "parameters": {"max_new_tokens": 20, "grammar": regex}}
    text = httpx.post(f"{live}/generate", json=body, timeout=60).json()["generated_text"]
    assert re.fullmatch(regex["value"], text), text
    body["parameters"]["grammar"] = {"type": "json", "value": PERSON}
    streamed = httpx.post(f"{live}/generate_stream", json=body, timeout=60).text
    last = json.loads([line for line in streamed.splitlines() if line.startswith("data:")][-1][5:])
    validate(json.loads(last["generated_text"]), PERSON)
    bad = httpx.post(f"{live}/generate", json={"inputs": "x", "parameters": {
        "grammar": {"type": "json", "value": {"not": {}}}}}, timeout=60)
    assert bad.status_code == 422 and "not" in bad.json()["error"]


# ---------------------------------------------------------------- /v1/completions, /tokenize, /detokenize
def test_legacy_completions_with_the_openai_client(client, live):
    whole = client.completions.create(model="course", prompt=["The capital of France is", "Two plus two"],
                                      max_tokens=5, logprobs=2, echo=True)
    assert [c.index for c in whole.choices] == [0, 1] and whole.choices[0].text.startswith("The capital")
    assert sum(len(c.logprobs.tokens) for c in whole.choices) == whole.usage.completion_tokens
    assert all(len(top) <= 2 for c in whole.choices for top in c.logprobs.top_logprobs)
    stream = client.completions.create(model="course", prompt="The capital of France is", max_tokens=5,
                                       stream=True)
    streamed = "".join(c.choices[0].text for c in stream if c.choices)
    plain = client.completions.create(model="course", prompt="The capital of France is", max_tokens=5)
    assert streamed == plain.choices[0].text and plain.usage.completion_tokens >= 1
    default = client.completions.create(model="course", prompt="Once upon a time")
    assert default.usage.completion_tokens <= 16  # OpenAI's default max_tokens


def test_langchain_openai_llm_on_legacy_completions(live):
    from langchain_openai import OpenAI as LangChainOpenAI

    llm = LangChainOpenAI(base_url=f"{live}/v1", api_key="unused", model="course", max_tokens=5,
                          max_retries=0)
    assert isinstance(llm.invoke("The capital of France is"), str)


def test_tokenize_and_detokenize(live):
    tokens = httpx.post(f"{live}/tokenize", json={"prompt": "Hello world"}).json()
    assert tokens["count"] == len(tokens["tokens"]) and tokens["max_model_len"] > 0
    back = httpx.post(f"{live}/detokenize", json={"tokens": tokens["tokens"]}).json()
    assert back["prompt"] == "Hello world"
    chat = httpx.post(f"{live}/tokenize", json={"messages": [{"role": "user", "content": "hi"}]}).json()
    assert chat["count"] > tokens["count"]  # the chat template's turns
    assert httpx.post(f"{live}/detokenize", json={"tokens": [10**9]}).status_code == 422


def test_request_ids(live):
    mine = httpx.get(f"{live}/health", headers={"x-request-id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    fresh = httpx.get(f"{live}/health")
    assert len(fresh.headers["x-request-id"]) == 32
    injected = httpx.get(f"{live}/health", headers={"x-request-id": "a b\tc"})
    assert injected.headers["x-request-id"] != "a b\tc"


@pytest.mark.parametrize("rows, vocab, mask_vocab", [(1, 40, 40), (3, 70, 64), (2, 33, 40)])
def test_apply_bitmask_masks_exactly_the_cleared_bits(rows, vocab, mask_vocab):
    """Token t is bit t % 32 of word t // 32; a token past the mask's width is masked too."""
    import torch

    from course_utils.server.grammar import apply_bitmask

    generator = torch.Generator().manual_seed(rows * vocab)
    words = (mask_vocab + 31) // 32
    bitmask = torch.randint(-2**31, 2**31 - 1, (rows, words), dtype=torch.int32, generator=generator)
    bitmask[0, 0] = -1  # a word with every bit set: the sign bit is a token too
    scores = torch.randn(rows, vocab, generator=generator)
    expected = scores.clone()
    for i in range(rows):
        for t in range(vocab):
            if t >= 32 * words or not (int(bitmask[i, t // 32]) >> (t % 32)) & 1:
                expected[i, t] = float("-inf")
    apply_bitmask(scores, bitmask)
    assert torch.equal(scores, expected)
    assert (scores[0, :32] > float("-inf")).all()
