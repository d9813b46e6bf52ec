"""The reference server as a production server: batching, overload, timeouts, metrics, API key, and
real clients (openai, huggingface_hub, LangChain) used unchanged against it."""

import json
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from course_utils.server import BackgroundServer, Engine, create_app
from course_utils.generation import GenerationParams

CHAT = {"model": "anything", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def batching_engine(tiny_dir):
    return Engine(str(tiny_dir), max_batch_size=4, max_wait_ms=200, max_concurrent_requests=16)


@pytest.fixture(scope="module")
def live(batching_engine):
    with BackgroundServer(create_app(batching_engine)) as server:
        yield server.url


def _together(n, fn):
    """Call fn(i) for i in range(n) from n threads at once; return the results in order."""
    results = [None] * n

    def run(i):
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


# ---------------------------------------------------------------- batching
def test_waiting_requests_share_a_batch_and_match_one_at_a_time(batching_engine, tiny_dir):
    prompts = ["Hello there", "The sea is", "One two three four five", "A"]
    sizes = []
    batching_engine.on_batch = sizes.append
    try:
        batched = _together(4, lambda i: batching_engine.generate(prompts[i], GenerationParams(6)))
    finally:
        batching_engine.on_batch = None
    assert max(sizes) > 1, f"no batch formed: {sizes}"
    single = Engine(str(tiny_dir), max_batch_size=1)
    for prompt, result in zip(prompts, batched):
        alone = single.generate(prompt, GenerationParams(6))
        assert result["ids"] == alone["ids"], "left-padded batching changed a greedy answer"


def test_each_request_keeps_its_own_token_budget(batching_engine):
    budgets = [1, 3, 7, 12]
    results = _together(4, lambda i: batching_engine.generate("Count with me", GenerationParams(budgets[i])))
    for budget, result in zip(budgets, results):
        assert len(result["ids"]) <= budget
        if result["finish_reason"] == "length":
            assert len(result["ids"]) == budget


def test_different_sampling_settings_never_share_a_batch(batching_engine):
    seen = []
    original = batching_engine._generate

    def spy(jobs):
        seen.append({job.batch_key() for job in jobs})
        return original(jobs)

    batching_engine._generate = spy
    try:
        params = [GenerationParams(3), GenerationParams(3, temperature=0.7), GenerationParams(3),
                  GenerationParams(3, seed=1, do_sample=True)]
        _together(4, lambda i: batching_engine.generate("Hi", params[i]))
    finally:
        del batching_engine._generate
    assert all(len(keys) == 1 for keys in seen), seen


def test_stop_strings_apply_per_request(batching_engine):
    free = batching_engine.generate("Hello", GenerationParams(max_new_tokens=12))
    assert len(free["text"]) > 3
    stop = free["text"][2:4]
    stopped = batching_engine.generate("Hello", GenerationParams(max_new_tokens=12, stop=[stop]))
    assert stopped["finish_reason"] == "stop_sequence"
    assert stopped["text"].endswith(stop) and free["text"].startswith(stopped["text"])


# ---------------------------------------------------------------- overload, timeouts, disconnects
class _Gate:
    """Makes the engine's model hang until released: to fill the queue on purpose."""

    def __init__(self, engine, monkeypatch):
        self.entered, self.release = threading.Event(), threading.Event()
        original = engine.model.generate

        def held(*args, **kwargs):
            self.entered.set()
            self.release.wait(60)
            return original(*args, **kwargs)

        monkeypatch.setattr(engine.model, "generate", held)


def test_a_full_server_answers_429_at_once_and_finishes_the_rest(tiny_dir, monkeypatch):
    engine = Engine(str(tiny_dir), max_batch_size=1, max_concurrent_requests=2)
    gate = _Gate(engine, monkeypatch)
    with BackgroundServer(create_app(engine)) as server:
        accepted = []
        first = threading.Thread(target=lambda: accepted.append(httpx.post(
            f"{server.url}/generate", json={"inputs": "a", "parameters": {"max_new_tokens": 2}}, timeout=60)))
        first.start()
        assert gate.entered.wait(30)
        second = threading.Thread(target=lambda: accepted.append(httpx.post(
            f"{server.url}/v1/chat/completions", json=CHAT, timeout=60)))
        second.start()
        while engine.admitted < 2:
            time.sleep(0.01)
        shed = [httpx.post(f"{server.url}/generate", json={"inputs": "b"}, timeout=60),
                httpx.post(f"{server.url}/v1/chat/completions", json=CHAT, timeout=60),
                httpx.post(f"{server.url}/generate_stream", json={"inputs": "c"}, timeout=60)]
        assert not gate.release.is_set()  # all three were answered while the model was busy
        gate.release.set()
        first.join(60)
        second.join(60)
    assert [r.status_code for r in shed] == [429, 429, 429]
    assert shed[0].json() == {"error": "Model is overloaded", "error_type": "overloaded"}
    assert shed[1].json()["error"]["message"] == "Model is overloaded"
    assert sorted(r.status_code for r in accepted) == [200, 200]
    assert engine.admitted == 0


def test_a_request_past_its_timeout_gets_a_clear_error(tiny_dir):
    engine = Engine(str(tiny_dir), request_timeout=0.2)
    client = TestClient(create_app(engine))
    response = client.post("/generate", json={"inputs": "Hello", "parameters": {"max_new_tokens": 500}})
    assert response.status_code == 504
    assert response.json()["error_type"] == "timeout"
    assert "timed out" in response.json()["error"]
    assert engine.admitted == 0


def test_a_client_that_leaves_a_stream_frees_its_slot(live, batching_engine):
    request = {"inputs": "Tell me a story", "parameters": {"max_new_tokens": 500}}
    with httpx.stream("POST", f"{live}/generate_stream", json=request, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                break  # leave after the first token
    for _ in range(500):
        if batching_engine.admitted == 0:
            break
        time.sleep(0.01)
    assert batching_engine.admitted == 0, "the abandoned generation still holds its slot"
    again = httpx.post(f"{live}/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
    assert again.status_code == 200


# ---------------------------------------------------------------- API shapes
def test_tgi_compat_route(live):
    body = {"inputs": "Hello", "parameters": {"max_new_tokens": 3}}
    answer = httpx.post(f"{live}/", json=body).json()
    assert isinstance(answer, list) and isinstance(answer[0]["generated_text"], str)
    stream = httpx.post(f"{live}/", json={**body, "stream": True})
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in stream.text.splitlines() if line.startswith("data:")]
    assert events[-1]["generated_text"] == answer[0]["generated_text"]


def test_models_and_chat_shapes(live):
    models = httpx.get(f"{live}/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["object"] == "model"
    answer = httpx.post(f"{live}/v1/chat/completions", json=CHAT).json()
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    choice = answer["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in {"stop", "length"}
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_stream_framing(live):
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    text = httpx.post(f"{live}/v1/chat/completions", json=body).text
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert blocks[-1] == "data: [DONE]"
    chunks = [json.loads(b[6:]) for b in blocks[:-1]]
    assert all(b.startswith("data: ") for b in blocks)
    content = [c for c in chunks if c["choices"]]
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in content)
    assert content[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
    assert all(c["choices"][0]["finish_reason"] is None for c in content[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("body", [
    {"messages": []},
    {"messages": [{"role": "robot", "content": "hi"}]},
    {"messages": [{"role": "user", "content": 5}]},
    {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
    {"messages": [{"role": "user", "content": "hi"}], "temperature": -1},
    {"messages": [{"role": "user", "content": "hi"}], "n": 2},
])
def test_chat_validation_errors_in_openai_shape(live, body):
    response = httpx.post(f"{live}/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("Input validation error")


def test_metrics_use_tgi_names_and_count(live):
    before = httpx.get(f"{live}/metrics").text
    httpx.post(f"{live}/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
    httpx.post(f"{live}/generate", json={"inputs": ""})
    after = httpx.get(f"{live}/metrics").text
    for name in ["tgi_request_count", "tgi_request_success", "tgi_request_failure", "tgi_request_duration",
                 "tgi_request_queue_duration", "tgi_request_input_length", "tgi_request_generated_tokens",
                 "tgi_request_mean_time_per_token_duration", "tgi_queue_size", "tgi_batch_current_size"]:
        assert f"\n{name}" in after, name

    def value(text, sample):
        return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample + " "))

    assert value(after, "tgi_request_count_total") >= value(before, "tgi_request_count_total") + 2
    assert value(after, 'tgi_request_failure_total{err="validation"}') >= 1


def test_api_key(tiny_dir):
    engine = Engine(str(tiny_dir))
    client = TestClient(create_app(engine, api_key="s3cret"))
    assert client.get("/health").status_code == 200
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}]:
        response = client.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert response.status_code == 401 and "API key" in response.json()["error"]["message"]
        assert client.post("/generate", json={"inputs": "Hi"}, headers=headers).status_code == 401
    assert client.post("/v1/chat/completions", json=CHAT,
                       headers={"Authorization": "Bearer s3cret"}).status_code == 200


# ---------------------------------------------------------------- real clients, unchanged
def test_openai_client(live):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live}/v1", api_key="unused")
    reply = client.chat.completions.create(model="course", messages=[{"role": "user", "content": "Hi"}],
                                           max_tokens=5)
    assert reply.choices[0].message.role == "assistant" and reply.usage.completion_tokens >= 1
    stream = client.chat.completions.create(model="course", messages=[{"role": "user", "content": "Hi"}],
                                            max_tokens=5, stream=True)
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert "".join(pieces) == reply.choices[0].message.content  # greedy: the same answer


def test_openai_client_sees_overload_as_a_rate_limit(tiny_dir, monkeypatch):
    from openai import OpenAI, RateLimitError

    engine = Engine(str(tiny_dir), max_concurrent_requests=1)
    gate = _Gate(engine, monkeypatch)
    with BackgroundServer(create_app(engine)) as server:
        busy = threading.Thread(target=httpx.post, args=(f"{server.url}/v1/chat/completions",),
                                kwargs={"json": CHAT, "timeout": 60})
        busy.start()
        assert gate.entered.wait(30)
        client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(RateLimitError, match="overloaded"):
            client.chat.completions.create(model="course", messages=CHAT["messages"], max_tokens=3)
        gate.release.set()
        busy.join(60)


def test_huggingface_inference_client(live, monkeypatch):
    from huggingface_hub import InferenceClient, constants

    # huggingface_hub refuses every URL, localhost included, while HF_HUB_OFFLINE=1 (the suite sets
    # it so that nothing reaches the hub). A local server is not the hub: allow it for this test.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    client = InferenceClient(base_url=live)
    reply = client.chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=5)
    text = reply.choices[0].message.content
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat_completion(
        messages=[{"role": "user", "content": "Hi"}], max_tokens=5, stream=True) if chunk.choices)
    assert streamed == text

    tgi = InferenceClient(live)
    details = tgi.text_generation("Hello", max_new_tokens=4, details=True)
    assert details.details.generated_tokens == len(details.details.tokens) >= 1
    events = list(tgi.text_generation("Hello", max_new_tokens=4, stream=True, details=True))
    assert events[-1].generated_text == details.generated_text
    assert "".join(e.token.text for e in events) == details.generated_text


def test_langchain_openai_chat_model(live):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{live}/v1", api_key="unused", model="course", max_tokens=5, temperature=0)
    answer = llm.invoke("Hi")
    assert isinstance(answer.content, str) and answer.content
    assert "".join(chunk.content for chunk in llm.stream("Hi")) == answer.content


# ---------------------------------------------------------------- the load benchmark
def test_percentile():
    from course_utils.bench.loadtest import percentile

    assert percentile([], 50) is None and percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert 4.0 < percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) <= 5.0


@pytest.mark.parametrize("api", ["openai", "tgi"])
def test_loadtest_counts_requests_and_tokens(live, api):
    import asyncio

    from course_utils.bench.loadtest import run

    report = asyncio.run(run(live, clients=3, duration=1.5, max_tokens=4, api=api))
    assert report.requests >= 3 and report.errors == 0
    assert 0 < report.generated_tokens <= 4 * report.requests
    assert report.tokens_per_s > 0 and report.ttft_p50_s <= report.latency_p50_s
    assert report.latency_p50_s <= report.latency_p95_s


def test_loadtest_cli_writes_json_and_counts_errors(live, tmp_path, unused_port):
    from course_utils.bench.loadtest import main

    out = tmp_path / "report.json"
    assert main(["--url", live, "--clients", "2", "--duration", "1", "--max-tokens", "3",
                 "--json", str(out)]) == 0
    numbers = json.loads(out.read_text())
    assert numbers["clients"] == 2 and numbers["errors"] == 0 and numbers["requests"] >= 2
    # a server that is not there: every request fails, and the CLI says so
    dead = f"http://127.0.0.1:{unused_port}"
    assert main(["--url", dead, "--clients", "1", "--duration", "0.3"]) == 1


@pytest.fixture
def unused_port():
    from course_utils.server import free_port

    return free_port()  # nothing listens there


def test_loadtest_against_the_naive_server(batching_engine):
    import asyncio

    from course_utils.bench.loadtest import run
    from course_utils.server import create_naive_app

    with BackgroundServer(create_naive_app(batching_engine)) as server:
        report = asyncio.run(run(server.url, clients=2, duration=1.0, max_tokens=3, api="naive",
                                 count_tokens=lambda text: len(text.split())))
    assert report.requests >= 2 and report.errors == 0
    assert report.ttft_p50_s == report.latency_p50_s  # no stream: the first token comes with the rest


def test_benchmark_commands():
    from course_utils.bench.benchmark import server_command

    command, api = server_command("reference-8", "/m", "bfloat16", 9000)
    assert command[-2:] == ["--max-batch-size", "8"] and api == "openai"
    assert server_command("naive", "/m", "bfloat16", 9000) == (
        [*server_command("reference-1", "/m", "bfloat16", 9000)[0][:-2], "--naive"], "naive")
    assert "--continuous-batching" in server_command("transformers-cb", "/m", "bfloat16", 9000)[0]
    with pytest.raises(ValueError, match="unknown server"):
        server_command("vllm", "/m", "bfloat16", 9000)


def test_benchmark_compares_real_servers(tiny_dir):
    from course_utils.bench.benchmark import compare

    rows = compare(["naive", "reference-2"], clients=[2], duration=0.5, max_tokens=3, model=str(tiny_dir),
                   progress=None)
    assert [row["server"] for row in rows] == ["naive", "reference-2"]
    for row in rows:
        assert row["errors"] == 0 and row["requests"] >= 2 and row["tokens_per_s"] > 0, row


@pytest.mark.parametrize("field,value", [("temperature", 2), ("temperature", 0), ("top_p", 1),
                                         ("presence_penalty", 0), ("frequency_penalty", 0)])
def test_chat_accepts_integers_in_number_fields(live, field, value):
    assert httpx.post(f"{live}/v1/chat/completions", json={**CHAT, field: value}).status_code == 200


@pytest.mark.parametrize("field,value,allowed", [
    ("temperature", 2.5, "2"), ("temperature", -0.1, "0"), ("top_p", 1.5, "1"),
    ("presence_penalty", 5, "2"), ("frequency_penalty", -3, "-2"), ("max_tokens", 0, "1")])
def test_chat_refuses_values_outside_openai_ranges(live, field, value, allowed):
    response = httpx.post(f"{live}/v1/chat/completions", json={**CHAT, field: value})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == field
    assert field in error["message"] and allowed in error["message"]
