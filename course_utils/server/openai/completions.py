"""OpenAI's legacy ``POST /v1/completions``: text in, text out, no chat template.

Many tools still call it: LangChain's ``OpenAI`` class, load generators, vLLM's and TGI's
benchmarks. Served: ``prompt`` (a string, a list of strings, or token ids), ``max_tokens`` (16 when
not given, as OpenAI), ``temperature`` (0 or unset: greedy, as on the chat route), ``top_p``, ``n``,
``stop``, ``seed``, ``logprobs`` (how many alternatives per token, as in the legacy API),
``echo``, the penalties, ``logit_bias``, ``stream`` / ``stream_options``, ``user``. Refused with a
message: ``suffix`` (fill-in-the-middle) and ``best_of`` > 1.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator

from .. import sse
from ..auth import authorized
from ..errors import ValidationFailed, stream_error
from ..events import Finished, Token
from ..fields import integer, number, only
from ..openapi import GENERATION_ERRORS, documented
from ..sampling import SamplingParams
from ..text import held_back
from .protocol import MAX_N, OpenAIErrorResponse, Stop, StreamOptions, Usage, _logit_bias
from .routes import ServingDep, _merged, answer_text, completion_tokens, shown_tokens

MAX_LOGPROBS = 5  # the legacy API's limit
router = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: StrictStr | None = Field(None, description="any name: this server has one model")
    prompt: StrictStr | list[StrictStr] | list[int] = Field(description="a text, texts, or token ids")
    best_of: only(1, why="best_of > 1 (ask for n answers instead)") = None
    echo: StrictBool | None = None
    frequency_penalty: number(-2, 2) | None = None
    logit_bias: Annotated[dict[str, Any] | None, AfterValidator(_logit_bias)] = None
    logprobs: integer(0, MAX_LOGPROBS) | None = None
    max_tokens: integer(1) | None = Field(None, description="default 16, as OpenAI")
    n: integer(1, MAX_N) | None = None
    presence_penalty: number(-2, 2) | None = None
    seed: integer(-(2**63), 2**64 - 1) | None = None
    stop: Stop = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    suffix: only(why="suffix (fill-in-the-middle)") = None
    temperature: number(0, 2) | None = None
    top_p: number(0, 1) | None = None
    user: StrictStr | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.prompt in ("", []) or (isinstance(self.prompt, list) and "" in self.prompt):
            raise ValueError("`prompt` must not be empty")
        if self.stream_options is not None and not self.stream:
            raise ValueError("`stream_options` is only allowed when `stream` is true")
        return self

    def prompts(self, tokenizer) -> list[str]:
        if isinstance(self.prompt, str):
            return [self.prompt]
        if all(isinstance(p, int) for p in self.prompt):
            if any(not 0 <= p < len(tokenizer) for p in self.prompt):
                raise ValidationFailed(f"`prompt`: token ids go from 0 to {len(tokenizer) - 1}", "prompt")
            return [tokenizer.decode(self.prompt)]
        return list(self.prompt)

    def to_sampling_params(self) -> SamplingParams:
        sampling = bool(self.temperature) and self.top_p != 0
        return SamplingParams(
            max_new_tokens=self.max_tokens or 16,
            do_sample=sampling,
            temperature=self.temperature if sampling else None,
            top_p=self.top_p if sampling and self.top_p is not None and self.top_p < 1 else None,
            frequency_penalty=self.frequency_penalty or None,
            presence_penalty=self.presence_penalty or None,
            logit_bias=dict(self.logit_bias or {}),
            stop=list(self.stop or []),
            seed=None if self.seed is None else self.seed % (1 << 64),
            top_logprobs=self.logprobs or 0,
        )


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: Literal["stop", "length"] | None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


def _logprobs(tokens: list[Token], tokenizer, offset: int) -> CompletionLogprobs:
    texts = [tokenizer.decode([t.id]) for t in tokens]
    offsets, at = [], offset
    for text in texts:
        offsets.append(at)
        at += len(text)
    return CompletionLogprobs(
        tokens=texts, token_logprobs=[t.logprob for t in tokens],
        top_logprobs=[{a.text: a.logprob for a in t.top} for t in tokens], text_offset=offsets)


@router.post("/completions", response_model=Completion,
             responses=documented(*GENERATION_ERRORS, error=OpenAIErrorResponse, ok=Completion, stream=True))
async def completions(request: Request, body: CompletionRequest, serving: ServingDep):
    prompts = body.prompts(serving.engine.tokenizer)
    renamed = {"max_new_tokens": "max_tokens", "num_return_sequences": "n", "top_logprobs": "logprobs"}
    generations = []
    for prompt in prompts:
        params = body.to_sampling_params()
        generations += await serving.admit_many(prompt, params, body.n or 1, renamed=renamed)
    echoed = [p for p in prompts for _ in range(body.n or 1)]
    header = {"id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": serving.model_name}
    if body.stream:
        return sse.response(_stream(body, serving, generations, echoed, header, request.url.path))
    answers = await asyncio.gather(*(serving.collect(request, g) for g in generations))
    choices = []
    for i, (answer, prompt) in enumerate(zip(answers, echoed)):
        start = prompt if body.echo else ""
        lp = None
        if body.logprobs is not None:
            lp = _logprobs(shown_tokens(answer.tokens, answer.finished), serving.engine.tokenizer, len(start))
        choices.append(CompletionChoice(index=i, text=start + answer_text(answer.finished), logprobs=lp,
                                        finish_reason=_finish(answer.finished)))
    usage = Usage.of(sum(len(g.prompt_ids) for g in generations),
                     sum(completion_tokens(a.finished) for a in answers))
    return Completion(**header, choices=choices, usage=usage)


def _finish(finished: Finished) -> str:
    return "length" if finished.reason == "length" else "stop"


async def _stream(body, serving, generations, echoed, header, path: str):
    stops = list(body.stop or [])
    text, sent = [""] * len(generations), [0] * len(generations)
    usage = [0] * len(generations)
    try:
        if body.echo:
            for i, prompt in enumerate(echoed):
                yield Completion(**header, choices=[CompletionChoice(index=i, text=prompt)])
        async for index, event in _merged([serving.stream(g) for g in generations]):
            if isinstance(event, Token):
                text[index] += event.text
                safe = len(text[index]) - held_back(text[index], stops)
                piece, sent[index] = text[index][sent[index]:safe], max(sent[index], safe)
                if piece:
                    yield Completion(**header, choices=[CompletionChoice(index=index, text=piece)])
            else:
                usage[index] = completion_tokens(event)
                rest = answer_text(event)[sent[index]:]
                yield Completion(**header, choices=[CompletionChoice(index=index, text=rest,
                                                                     finish_reason=_finish(event))])
        if body.stream_options and body.stream_options.include_usage:
            prompt_tokens = sum(len(g.prompt_ids) for g in generations)
            yield Completion(**header, choices=[], usage=Usage.of(prompt_tokens, sum(usage)))
    except Exception as err:  # noqa: BLE001 - the 200 is sent: say it in the stream
        serving.stream_failed(err)
        yield stream_error(path, err)
    yield "[DONE]"
