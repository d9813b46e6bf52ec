"""Prometheus metrics under TGI's names (course_utils/server/metrics.py)."""

from fastapi.testclient import TestClient

from course_utils.server import Engine, create_app

NAMES = [
    "tgi_request_count",
    "tgi_request_success",
    "tgi_request_failure",
    "tgi_request_duration",
    "tgi_request_queue_duration",
    "tgi_request_input_length",
    "tgi_request_generated_tokens",
    "tgi_request_mean_time_per_token_duration",
    "tgi_queue_size",
    "tgi_batch_current_size",
    "vllm:time_to_first_token_seconds",
    "vllm:prefix_cache_queries",
    "vllm:prefix_cache_hits",
]


def value(text, sample):
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample + " "))


def test_metrics_use_tgi_names_and_count(tiny_dir):
    engine = Engine(str(tiny_dir))
    try:
        client = TestClient(create_app(engine))
        before = client.get("/metrics").text
        client.post("/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
        client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        )
        client.post("/generate", json={"inputs": ""})
        after = client.get("/metrics").text
    finally:
        engine.close()
    for name in NAMES:
        assert f"\n{name}" in after, name
    assert value(after, "tgi_request_count_total") == value(before, "tgi_request_count_total") + 3
    assert value(after, "tgi_request_success_total") == value(before, "tgi_request_success_total") + 2
    assert value(after, 'tgi_request_failure_total{err="validation"}') == 1
    assert value(after, "vllm:time_to_first_token_seconds_count") == 2
    assert value(after, "vllm:prefix_cache_queries_total") > value(after, "vllm:prefix_cache_hits_total") == 0


def test_prefix_cache_hits_are_counted(tiny_dir):
    engine = Engine(str(tiny_dir))
    try:
        client = TestClient(create_app(engine))
        body = {"inputs": "The same long prompt, sent twice", "parameters": {"max_new_tokens": 2}}
        prompt_tokens = len(engine.tokenizer(body["inputs"])["input_ids"])
        client.post("/generate", json=body)
        client.post("/generate", json=body)
        text = client.get("/metrics").text
    finally:
        engine.close()
    assert value(text, "vllm:prefix_cache_queries_total") == 2 * prompt_tokens
    assert value(text, "vllm:prefix_cache_hits_total") == prompt_tokens - 1
