"""Real clients, unchanged, against the server: openai, huggingface_hub's InferenceClient, LangChain."""

import threading

import httpx
import pytest

from course_utils.server import BackgroundServer, Engine, create_app
from server_helpers import Gate

CHAT = {"model": "anything", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def live(tiny_dir):
    engine = Engine(str(tiny_dir), max_batch_size=4)
    with BackgroundServer(create_app(engine)) as server:
        yield server.url
    engine.close()


def test_openai_client(live):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live}/v1", api_key="unused")
    messages = [{"role": "user", "content": "Hi"}]
    reply = client.chat.completions.create(model="course", messages=messages, max_tokens=5)
    assert reply.choices[0].message.role == "assistant" and reply.usage.completion_tokens >= 1
    stream = client.chat.completions.create(model="course", messages=messages, max_tokens=5, stream=True)
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert "".join(pieces) == reply.choices[0].message.content  # greedy: the same answer


def test_openai_client_with_every_option_it_types(live):
    from openai import OpenAI

    client = OpenAI(base_url=f"{live}/v1", api_key="unused")
    reply = client.chat.completions.create(
        model="course",
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_completion_tokens=4,
        temperature=1,
        top_p=1,
        n=2,
        seed=3,
        stop=["\n\n"],
        logprobs=True,
        top_logprobs=2,
        frequency_penalty=0.5,
        presence_penalty=0,
        logit_bias={"100": -5},
        user="learner",
        store=False,
        service_tier="auto",
    )
    assert len(reply.choices) == 2 and reply.choices[1].index == 1
    assert len(reply.choices[0].logprobs.content[0].top_logprobs) == 2


def test_openai_client_gets_a_bad_request_error_naming_the_field(live):
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=f"{live}/v1", api_key="unused", max_retries=0)
    with pytest.raises(BadRequestError) as err:
        client.chat.completions.create(
            model="course", messages=[{"role": "user", "content": "Hi"}], temperature=2.5
        )
    assert err.value.body["param"] == "temperature" and "between 0 and 2" in err.value.body["message"]


def test_openai_client_sees_overload_as_a_rate_limit(tiny_dir, monkeypatch):
    from openai import OpenAI, RateLimitError

    engine = Engine(str(tiny_dir), max_concurrent_requests=1)
    gate = Gate(engine, monkeypatch)
    with BackgroundServer(create_app(engine)) as server:
        busy = threading.Thread(
            target=httpx.post,
            args=(f"{server.url}/v1/chat/completions",),
            kwargs={"json": CHAT, "timeout": 60},
        )
        busy.start()
        assert gate.entered.wait(30)
        client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(RateLimitError, match="overloaded") as refused:
            client.chat.completions.create(model="course", messages=CHAT["messages"], max_tokens=3)
        assert refused.value.response.headers["retry-after"] == "1"  # the client's back-off reads it
        assert refused.value.response.headers["x-request-id"]
        gate.release.set()
        busy.join(60)
    engine.close()


def test_huggingface_inference_client(live, monkeypatch):
    from huggingface_hub import InferenceClient, constants

    # huggingface_hub refuses every URL, localhost included, while HF_HUB_OFFLINE=1 (the suite sets
    # it so that nothing reaches the hub). A local server is not the hub: allow it for this test.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    client = InferenceClient(base_url=live)
    reply = client.chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=5)
    text = reply.choices[0].message.content
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat_completion(
            messages=[{"role": "user", "content": "Hi"}], max_tokens=5, stream=True
        )
        if chunk.choices
    )
    assert streamed == text
    with_logprobs = client.chat_completion(
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=3,
        logprobs=True,
        top_logprobs=2,
        temperature=1,
        seed=1,
    )
    assert len(with_logprobs.choices[0].logprobs.content[0].top_logprobs) == 2

    tgi = InferenceClient(live)
    details = tgi.text_generation(
        "Hello", max_new_tokens=4, details=True, top_n_tokens=2, temperature=2, do_sample=True, seed=5
    )
    assert details.details.generated_tokens == len(details.details.tokens) >= 1
    assert details.details.seed == 5 and all(t.logprob <= 0 for t in details.details.tokens)
    events = list(tgi.text_generation("Hello", max_new_tokens=4, stream=True, details=True))
    greedy = tgi.text_generation("Hello", max_new_tokens=4)
    assert events[-1].generated_text == greedy == "".join(e.token.text for e in events)


def test_langchain_openai_chat_model(live):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{live}/v1", api_key="unused", model="course", max_tokens=5, temperature=0)
    answer = llm.invoke("Hi")
    assert isinstance(answer.content, str) and answer.content
    assert "".join(chunk.content for chunk in llm.stream("Hi")) == answer.content
    stopped = llm.bind(stop=["\n"]).invoke("Hi")
    assert "\n" not in stopped.content
