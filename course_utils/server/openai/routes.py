"""OpenAI's routes: ``POST /v1/chat/completions`` (whole or streamed) and ``GET /v1/models``.

Built with the models of ``openai/protocol.py``; the ``openai`` client, ``InferenceClient.chat_completion``
and LangChain's ``ChatOpenAI`` call them unchanged (``tests/test_server_clients.py``).
"""

from __future__ import annotations

from typing import Annotated

import asyncio
import time
import uuid

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from .. import sse
from ..auth import authorized
from ..errors import ValidationFailed, stream_error
from ..events import Finished, Token
from ..openapi import GENERATION_ERRORS, documented
from ..serving import Answer, Serving
from ..text import held_back
from ..tools import OPEN, TOOL_TEMPLATE, parse_calls, template_messages
from .protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChoiceLogprobs,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    Model,
    ModelList,
    OpenAIErrorResponse,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    TopLogprob,
    Usage,
)

router = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])


def _serving(request: Request) -> Serving:
    return request.app.state.serving


ServingDep = Annotated[Serving, Depends(_serving)]


def answer_text(finished: Finished) -> str:
    """OpenAI leaves the stop string out of the answer (TGI keeps it)."""
    if finished.reason == "stop_sequence" and finished.stop:
        return finished.text[: len(finished.text) - len(finished.stop)]
    return finished.text


def finish_reason(finished: Finished, calls: list | None = None) -> str:
    if finished.reason == "length":
        return "length"
    return "tool_calls" if calls else "stop"


def shown_tokens(tokens: list[Token], finished: Finished) -> list[Token]:
    """The tokens of the answer the client sees: not the end-of-turn token that ended it (it is
    not in the text, so OpenAI's logprobs and completion_tokens leave it out too)."""
    if finished.reason == "eos_token" and tokens and tokens[-1].special:
        return tokens[:-1]
    return tokens


def completion_tokens(finished: Finished) -> int:
    return finished.generated_tokens - (finished.reason == "eos_token")


def message_of(body: ChatCompletionRequest, finished: Finished) -> tuple[AssistantMessage, str]:
    """The assistant's message (its text, or its tool calls) and the finish reason."""
    text = answer_text(finished)
    calls = []
    if body.calls_tools:  # also when the budget ended: the calls completed before it are kept
        text, calls = parse_calls(text)
    message = AssistantMessage(content=text, tool_calls=[ToolCall(**c) for c in calls] or None)
    return message, finish_reason(finished, calls)


def logprobs(tokens: list[Token], tokenizer) -> ChoiceLogprobs:
    def entry(token_id: int, text: str, logprob: float) -> dict:
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    content = [
        TokenLogprob(
            **entry(t.id, tokenizer.decode([t.id]), t.logprob),
            top_logprobs=[TopLogprob(**entry(a.id, a.text, a.logprob)) for a in t.top],
        )
        for t in tokens
    ]
    return ChoiceLogprobs(content=content)


def build_completion(
    body: ChatCompletionRequest, answers: list[Answer], serving: Serving, completion_id: str, created: int
) -> ChatCompletion:
    tokenizer = serving.engine.tokenizer
    choices = []
    for i, a in enumerate(answers):
        message, reason = message_of(body, a.finished)
        shown = shown_tokens(a.tokens, a.finished)
        choices.append(Choice(index=i, message=message, finish_reason=reason,
                              logprobs=logprobs(shown, tokenizer) if body.logprobs else None))
    prompt = answers[0].finished.prompt_tokens
    usage = Usage.of(prompt, sum(completion_tokens(a.finished) for a in answers))
    return ChatCompletion(
        id=completion_id, created=created, model=serving.model_name, choices=choices, usage=usage
    )


async def _prompt(serving: Serving, body: ChatCompletionRequest) -> str:
    """The conversation as the model's chat template writes it, ready for the answer; with tools
    (or earlier tool calls), as the course's tool template writes it (``tools.py``)."""
    options = {}
    if body.uses_tool_template:
        tools = [t.model_dump(exclude_none=True) for t in body.tools or []] if body.calls_tools else None
        options = {"chat_template": TOOL_TEMPLATE, "tools": tools}
    messages = body.messages_for_template()
    if body.uses_tool_template:
        messages = template_messages(messages)
    try:
        return await run_in_threadpool(
            serving.engine.tokenizer.apply_chat_template,
            messages,
            tokenize=False,
            add_generation_prompt=True,
            **options,
        )
    except Exception as err:  # noqa: BLE001 - jinja's TemplateError and the template's own raise_exception
        raise ValidationFailed(
            f"the model's chat template refused these messages: {err}", "messages"
        ) from None


@router.get("/models", response_model=ModelList, responses=documented(401, 500, error=OpenAIErrorResponse))
async def models(serving: ServingDep) -> ModelList:
    return ModelList(
        data=[Model(id=serving.model_name, created=int(serving.engine.created), owned_by="course")]
    )


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses=documented(*GENERATION_ERRORS, error=OpenAIErrorResponse, ok=ChatCompletion, stream=True),
)
async def chat(request: Request, body: ChatCompletionRequest, serving: ServingDep):
    limit = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    renamed = {"max_new_tokens": limit, "num_return_sequences": "n"}
    generations = await serving.admit_many(
        await _prompt(serving, body), body.to_sampling_params(), body.n or 1, renamed=renamed
    )
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        chunks = ChunkStream(body, serving, completion_id, created)
        return sse.response(chunks.events(generations, request.url.path))
    answers = await asyncio.gather(*(serving.collect(request, g) for g in generations))
    return build_completion(body, list(answers), serving, completion_id, created)


class ChunkStream:
    """The chunks of a streamed chat completion, for every choice, then usage, then ``[DONE]``.

    Text that could be the beginning of a stop string waits in ``held`` until the next token says
    whether it is one: OpenAI's answers never contain the stop string.
    """

    def __init__(
        self, body: ChatCompletionRequest, serving: Serving, completion_id: str, created: int
    ) -> None:
        self.body, self.serving = body, serving
        # with tools, text that could begin a call waits too: a call is sent as tool_calls
        self.stops = list(body.stop or []) + ([OPEN] if body.calls_tools else [])
        self.header = {"id": completion_id, "created": created, "model": serving.model_name}

    def chunk(
        self, index: int, content: str | None, finish: str | None = None, tokens: list[Token] | None = None
    ) -> ChatCompletionChunk:
        lp = logprobs(tokens, self.serving.engine.tokenizer) if self.body.logprobs and tokens else None
        choice = ChunkChoice(index=index, delta=Delta(content=content), finish_reason=finish, logprobs=lp)
        return ChatCompletionChunk(**self.header, choices=[choice])

    def call_chunks(self, index: int, calls: list[dict]) -> list[ChatCompletionChunk]:
        """OpenAI's way of streaming tool calls: for each, its id, type and name with empty
        arguments, then its arguments."""
        chunks = []
        for number, call in enumerate(calls):
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            for delta in (ToolCallDelta(index=number, id=call["id"], type="function",
                                        function=FunctionCallDelta(name=name, arguments="")),
                          ToolCallDelta(index=number, function=FunctionCallDelta(arguments=arguments))):
                choice = ChunkChoice(index=index, delta=Delta(content=None, tool_calls=[delta]))
                chunks.append(ChatCompletionChunk(**self.header, choices=[choice]))
        return chunks

    def last_chunks(self, index: int, finished: Finished, sent: int) -> list[ChatCompletionChunk]:
        """What is left to send of a choice when it ends: the rest of its text, or its calls."""
        text = answer_text(finished)
        calls = []
        if self.body.calls_tools:
            text, calls = parse_calls(text)
        if calls:
            rest = (text or "")[sent:] if text else ""
            head = [self.chunk(index, rest)] if rest else []
            last = self.chunk(index, None, finish_reason(finished, calls))
            return head + self.call_chunks(index, calls) + [last]
        return [self.chunk(index, (text or "")[sent:], finish_reason(finished))]

    async def events(self, generations, path: str):
        text = [""] * len(generations)
        sent = [0] * len(generations)
        usage = [0] * len(generations)
        prompt_tokens = len(generations[0].prompt_ids)
        try:
            async for index, event in _merged([self.serving.stream(g) for g in generations]):
                if isinstance(event, Token):
                    text[index] += event.text
                    shown = not event.special  # the end-of-turn token is not part of the answer
                    if self.body.calls_tools and OPEN in text[index]:
                        continue  # a tool call: sent whole when it ends
                    safe = len(text[index]) - held_back(text[index], self.stops)
                    content, sent[index] = text[index][sent[index] : safe], max(sent[index], safe)
                    if content or (self.body.logprobs and shown):
                        yield self.chunk(index, content, tokens=[event] if shown else None)
                else:
                    usage[index] = completion_tokens(event)
                    for chunk in self.last_chunks(index, event, sent[index]):
                        yield chunk
            if self.body.include_usage:
                yield ChatCompletionChunk(
                    **self.header, choices=[], usage=Usage.of(prompt_tokens, sum(usage))
                )
        except Exception as err:  # noqa: BLE001 - the status (200) is sent: say it in the stream
            self.serving.stream_failed(err)
            yield stream_error(path, err)
        yield "[DONE]"


async def _merged(streams):
    """(index, event) from several async iterators, as each comes; leaving early stops them all."""
    queue: asyncio.Queue = asyncio.Queue()
    done = object()

    async def pump(index, stream):
        try:
            async for event in stream:
                await queue.put((index, event))
        except Exception as err:  # noqa: BLE001 - handed to the reader
            await queue.put((index, err))
        finally:
            await queue.put((index, done))

    tasks = [asyncio.ensure_future(pump(i, s)) for i, s in enumerate(streams)]
    running = len(tasks)
    try:
        while running:
            index, item = await queue.get()
            if item is done:
                running -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield index, item
    finally:
        for task in tasks:
            task.cancel()
