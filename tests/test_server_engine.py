"""The engine: admission, step-level and static batching, per-request settings, cancellation,
timeouts and failures (course_utils/server/engine.py, worker.py)."""

import threading
import time

import pytest
from server_helpers import together

from course_utils.generation import GenerationParams
from course_utils.server import Engine
from course_utils.server.errors import GenerationFailed, Overloaded, RequestTimedOut, ValidationFailed
from course_utils.server.events import Finished, Token
from course_utils.server.sampling import SamplingParams


@pytest.fixture(scope="module")
def engine(tiny_dir):
    engine = Engine(str(tiny_dir), max_batch_size=4, max_concurrent_requests=8)
    yield engine
    engine.close()


def wait_idle(engine):
    for _ in range(1000):
        if engine.admitted == 0 and engine.running_batch_size == 0:
            return
        time.sleep(0.01)
    raise AssertionError("the engine did not become idle")


def submit(engine, prompt, **settings):
    params, ids = engine.check(prompt, SamplingParams(**settings))
    return engine.submit(ids, params)


def test_batched_answers_match_one_at_a_time(engine, tiny_dir):
    prompts = ["Hello there", "The sea is", "One two three four five", "A"]
    batched = together(4, lambda i: engine.generate(prompts[i], GenerationParams(6)))
    single = Engine(str(tiny_dir), max_batch_size=1)
    try:
        for prompt, result in zip(prompts, batched):
            assert result["ids"] == single.generate(prompt, GenerationParams(6))["ids"], (
                "batching changed an answer"
            )
    finally:
        single.close()


def test_a_new_request_joins_the_running_batch_at_the_next_step(engine):
    wait_idle(engine)
    sizes = []
    engine.on_step = sizes.append
    try:
        long = submit(engine, "Tell me a story", max_new_tokens=500)
        events = engine.events(long)
        next(events), next(events)  # the long one is generating
        short = engine.generate("Hi", GenerationParams(3))
        for _ in range(200):  # the short row leaves right after its last token
            if engine.running_batch_size == 1:
                break
            time.sleep(0.005)
        assert engine.running_batch_size == 1 and not long.done, "the short one left; the long one goes on"
        events.close()
    finally:
        engine.on_step = None
    assert short["finish_reason"] in ("length", "eos_token") and 2 in sizes, sizes
    wait_idle(engine)


def test_static_scheduler_starts_a_new_request_only_after_the_batch(tiny_dir):
    engine = Engine(str(tiny_dir), max_batch_size=4, scheduler="static", max_wait_ms=0)
    try:
        long = submit(engine, "Tell me a story", max_new_tokens=30)
        events = engine.events(long)
        next(events)
        short = submit(engine, "Hi", max_new_tokens=2)
        order = []
        threading.Thread(
            target=lambda: [order.append("short") for e in engine.events(short) if isinstance(e, Finished)]
        ).start()
        for event in events:
            if isinstance(event, Finished):
                order.append("long")
        for _ in range(500):
            if len(order) == 2:
                break
            time.sleep(0.01)
        assert order == ["long", "short"], "in a static batch, a newcomer waits for the whole batch"
    finally:
        engine.close()


def test_static_scheduler_waits_max_wait_for_a_batch_to_fill(tiny_dir):
    engine = Engine(str(tiny_dir), max_batch_size=3, scheduler="static", max_wait_ms=300)
    sizes = []
    engine.on_step = sizes.append
    try:
        together(3, lambda i: (time.sleep(0.05 * i), engine.generate("Hello", GenerationParams(3)))[1])
    finally:
        engine.close()
    assert sizes and sizes[0] == 3, f"the three requests should have started together: {sizes}"


def test_max_wait_is_refused_where_nothing_waits(tiny_dir):
    """The step scheduler never waits for a batch to fill: a max_wait_ms given to it would be
    silently ignored, so it is refused with what to do instead."""
    with pytest.raises(ValueError, match="scheduler='static' only"):
        Engine(str(tiny_dir), max_wait_ms=50)
    from course_utils.server.cli import main

    assert main(["--model", str(tiny_dir), "--max-wait-ms", "50"]) == 2


def test_a_prompt_begun_before_is_partly_taken_from_the_prefix_cache(engine, tiny_dir):
    wait_idle(engine)
    prompt = "Once upon a time in a land far away there lived"
    first = engine.generate(prompt, GenerationParams(5))
    again = engine.generate(prompt, GenerationParams(5))
    assert again["cached_tokens"] == again["prompt_tokens"] - 1, "all but the last prompt token reused"
    assert again["ids"] == first["ids"]
    assert engine.info()["prefix_cache_tokens"] > 0
    off = Engine(str(tiny_dir), prefix_cache_tokens=0)
    try:
        assert off.info()["prefix_cache_tokens"] == 0
        off.generate(prompt, GenerationParams(5))
        assert off.generate(prompt, GenerationParams(5))["cached_tokens"] == 0
    finally:
        off.close()
    with pytest.raises(ValueError, match="prefix_cache_tokens"):
        Engine(str(tiny_dir), prefix_cache_tokens=-1)


def test_each_request_keeps_its_own_token_budget_and_stop_strings(engine):
    free = engine.generate("Hello", GenerationParams(max_new_tokens=12))
    stop = free["text"][2:4]
    budgets = [1, 3, 7, 12]
    results = together(
        5,
        lambda i: (
            engine.generate("Hello", GenerationParams(budgets[i]))
            if i < 4
            else engine.generate("Hello", GenerationParams(12, stop=[stop]))
        ),
    )
    for budget, result in zip(budgets, results[:4]):
        assert len(result["ids"]) == budget or result["finish_reason"] == "eos_token"
    stopped = results[4]
    assert stopped["finish_reason"] == "stop_sequence" and stopped["text"].endswith(stop)
    assert free["text"].startswith(stopped["text"])
    assert "".join(t.text for t in stopped["tokens"]) == stopped["text"], "token texts add up to the answer"


def test_sampling_settings_and_seeds_are_per_request(engine):
    settings = GenerationParams(8, do_sample=True, temperature=1.5, seed=11)
    alone = engine.generate("Once upon", settings)
    mixed = together(
        3,
        lambda i: engine.generate(
            "Once upon", settings if i == 0 else GenerationParams(8, do_sample=True, temperature=0.3)
        ),
    )
    assert mixed[0]["ids"] == alone["ids"] and mixed[0]["seed"] == 11
    assert mixed[1]["seed"] is not None, "an unseeded sampling request reports the seed it drew"


def test_token_events_carry_logprobs_and_alternatives(engine):
    result = engine.generate("Hello", SamplingParams(max_new_tokens=3, top_logprobs=2))
    for token in result["tokens"]:
        assert isinstance(token, Token) and token.logprob <= 0 and len(token.top) == 2
        assert token.top[0].logprob >= token.logprob, "greedy: the chosen token is the most likely"


def test_a_reader_that_stops_early_frees_the_slot(engine):
    wait_idle(engine)
    request = submit(engine, "Tell me a story", max_new_tokens=400)
    events = engine.events(request)
    next(events)
    events.close()  # the client went away
    wait_idle(engine)


def test_a_full_engine_refuses_at_once(tiny_dir):
    engine = Engine(str(tiny_dir), max_concurrent_requests=2)
    try:
        held = [submit(engine, "Tell me a story", max_new_tokens=400) for _ in range(2)]
        started = time.monotonic()
        with pytest.raises(Overloaded):
            submit(engine, "Hi")
        assert time.monotonic() - started < 1
        for request in held:
            request.cancel.set()
        wait_idle(engine)
        assert engine.generate("Hi", GenerationParams(2))["ids"]
    finally:
        engine.close()


def test_a_request_past_its_timeout_is_stopped(tiny_dir):
    engine = Engine(str(tiny_dir), request_timeout=0.3)
    try:
        with pytest.raises(RequestTimedOut, match="limit of 0.3 s"):
            engine.generate("Hello", GenerationParams(500))
        wait_idle(engine)
    finally:
        engine.close()


def test_a_model_error_fails_its_requests_and_the_engine_goes_on(tiny_dir, monkeypatch):
    engine = Engine(str(tiny_dir))
    original = engine.model.forward
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(engine.model, "forward", fails_once)
    try:
        with pytest.raises(GenerationFailed):
            engine.generate("Hello", GenerationParams(3))
        assert engine.generate("Hello", GenerationParams(3))["ids"], "the next request works"
        assert engine.alive and engine.admitted == 0
    finally:
        engine.close()


@pytest.mark.parametrize(
    "prompt,settings,param",
    [
        ("", {}, "inputs"),
        ("   ", {}, "inputs"),
        ("Hi", {"max_new_tokens": 0}, "max_new_tokens"),
        ("Hi " * 3000, {"max_new_tokens": 8}, "max_new_tokens"),
        ("Hi", {"top_p": 1.5}, "top_p"),
        ("Hi", {"logit_bias": {10**9: 1.0}}, "logit_bias"),
    ],
)
def test_check_names_the_broken_rule(engine, prompt, settings, param):
    with pytest.raises(ValidationFailed) as err:
        engine.check(prompt, SamplingParams(**settings))
    assert err.value.param == param


def test_check_defaults_and_truncation(engine):
    params, ids = engine.check(
        "Hello there, how are you today?", SamplingParams(max_new_tokens=None), truncate=3
    )
    assert len(ids) == 3 and params.max_new_tokens == 64
    params, ids = engine.check("Hi " * 2030, SamplingParams(max_new_tokens=None))
    assert len(ids) + params.max_new_tokens <= engine.max_total_tokens, "the default fits the context"


def test_unknown_scheduler_is_refused(tiny_dir):
    with pytest.raises(ValueError, match="scheduler"):
        Engine(str(tiny_dir), scheduler="paged")
