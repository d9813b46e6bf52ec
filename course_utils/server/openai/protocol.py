"""OpenAI's chat completions API: the request, validated, and the response models that build the answers.

Every field of OpenAI's ``POST /v1/chat/completions`` (https://platform.openai.com/docs/api-reference/chat/create)
is declared, in the order of its documentation, so that a value is either served or refused with a
400 that names the field: nothing is silently ignored. Unknown fields are refused too, as OpenAI does.

Served: ``messages`` (text, or text parts), ``model`` (any name), ``max_completion_tokens`` /
``max_tokens``, ``temperature`` (0 or unset: greedy, a deliberate difference from OpenAI's default
of 1 so that answers are reproducible), ``top_p`` (0: the most likely token), ``frequency_penalty``,
``presence_penalty``, ``logit_bias``, ``logprobs`` / ``top_logprobs``, ``n``, ``seed``, ``stop``,
``stream`` / ``stream_options``. Accepted because they change nothing in the answer: ``user``,
``metadata``, ``safety_identifier``, ``prompt_cache_key``, ``service_tier``, ``store: false``,
``parallel_tool_calls``, ``modalities: ["text"]``, ``response_format: {"type": "text"}``,
``tool_choice: "none"`` (or ``"auto"`` with no tools). Refused with a message that says so: tools
and functions, audio, images, files, JSON output, predicted outputs, reasoning, web search.

The response models are the ones the routes return, so the OpenAPI schema and the wire agree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator
from typing_extensions import Annotated

from ..fields import integer, number, only
from ..sampling import MAX_TOP_LOGPROBS, SamplingParams

MAX_N = 8  # choices per request on this server (OpenAI allows more)
MAX_STOP = 4


# ---------------------------------------------------------------- request
def _text_parts(content):
    """Content is a string, or a list of text parts ``{"type": "text", "text": "..."}``."""
    if isinstance(content, str):
        return content
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text":
            raise ValueError(f"only text content is supported, got a part of type {kind!r}")
        if set(part) != {"type", "text"} or not isinstance(part["text"], str):
            raise ValueError('a text part is {"type": "text", "text": "..."}')
    return "".join(part["text"] for part in content)


Content = Annotated[StrictStr | list[Any], AfterValidator(_text_parts)]


class Message(BaseModel):
    """A chat message with text content. Tool calls, images, audio and files are not supported."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["developer", "system", "user", "assistant"] = Field(
        description="`developer` is treated as `system`; `tool` and `function` messages need function "
        "calling, which this server does not support"
    )
    content: Content = Field(description="text, or a list of text parts (joined)")
    name: only(why="message names (the chat template has no place for them)") = None
    refusal: only(why="refusals in earlier messages") = None
    tool_calls: only(why="function calling") = None
    function_call: only(why="function calling") = None
    audio: only(why="audio") = None

    def for_template(self) -> dict:
        return {"role": "system" if self.role == "developer" else self.role, "content": self.content}


def _stop_count(value):
    value = [value] if isinstance(value, str) else value
    if value is not None and len(value) > MAX_STOP:
        raise ValueError(f"at most {MAX_STOP} stop sequences, got {len(value)}")
    if value is not None and any(s == "" for s in value):
        raise ValueError("stop sequences must not be empty")
    return value


Stop = Annotated[StrictStr | list[StrictStr] | None, AfterValidator(_stop_count)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: StrictBool | None = None
    include_obfuscation: StrictBool | None = Field(
        None, description="accepted; this server never pads chunks"
    )


def _logit_bias(value: dict | None) -> dict[int, float] | None:
    if value is None:
        return None
    bias = {}
    for key, amount in value.items():
        if not str(key).isdigit():
            raise ValueError(f"keys must be token ids (digits as strings), got {key!r}")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not -100 <= amount <= 100:
            raise ValueError(f"values must be numbers between -100 and 100, got {amount!r}")
        bias[int(key)] = float(amount)
    return bias


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; fields in the order of OpenAI's documentation."""

    model_config = ConfigDict(extra="forbid")

    messages: list[Message] = Field(min_length=1)
    model: StrictStr | None = Field(None, description="any name: this server has one model")
    audio: only(why="audio output") = None
    frequency_penalty: number(-2, 2) | None = None
    function_call: only("none", why="function calling") = None
    functions: only(why="function calling") = None
    logit_bias: Annotated[dict[str, Any] | None, AfterValidator(_logit_bias)] = None
    logprobs: StrictBool | None = None
    max_completion_tokens: integer(1) | None = None
    max_tokens: integer(1) | None = None
    metadata: dict[str, StrictStr] | None = Field(None, description="accepted; not stored")
    modalities: only(["text"], why="output other than text") = None
    n: integer(1, MAX_N, description=f"at most {MAX_N} on this server") | None = None
    parallel_tool_calls: StrictBool | None = Field(None, description="accepted; there are no tools")
    prediction: only(why="predicted outputs") = None
    presence_penalty: number(-2, 2) | None = None
    prompt_cache_key: StrictStr | None = Field(None, description="accepted; no effect")
    reasoning_effort: only(why="reasoning (this model does not reason)") = None
    response_format: only({"type": "text"}, why='JSON output (only {"type": "text"})') = None
    safety_identifier: StrictStr | None = Field(None, description="accepted; no effect")
    seed: integer(-(2**63), 2**64 - 1) | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = Field(
        None, description="accepted; there is one tier"
    )
    stop: Stop = Field(None, description=f"a string, or up to {MAX_STOP} strings")
    store: only(False, why="stored completions") = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    temperature: number(0, 2) | None = None
    tool_choice: only("none", "auto", why="function calling") = None
    tools: only([], why="function calling") = None
    top_logprobs: integer(0, MAX_TOP_LOGPROBS) | None = None
    top_p: number(0, 1) | None = None
    user: StrictStr | None = Field(None, description="accepted; no effect")
    verbosity: only(why="verbosity (a reasoning-model option)") = None
    web_search_options: only(why="web search") = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.top_logprobs and not self.logprobs:
            raise ValueError("`top_logprobs` needs `logprobs: true`")
        if self.stream_options is not None and not self.stream:
            raise ValueError("`stream_options` is only allowed when `stream` is true")
        return self

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)

    def messages_for_template(self) -> list[dict]:
        return [m.for_template() for m in self.messages]

    def to_sampling_params(self) -> SamplingParams:
        """The engine's settings. Greedy when ``temperature`` is 0 or not given, or ``top_p`` is 0."""
        limit = self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens
        sampling = bool(self.temperature) and self.top_p != 0
        return SamplingParams(
            max_new_tokens=limit,  # None: the engine's default
            do_sample=sampling,
            temperature=self.temperature if sampling else None,
            top_p=self.top_p if sampling and self.top_p is not None and self.top_p < 1 else None,
            frequency_penalty=self.frequency_penalty or None,
            presence_penalty=self.presence_penalty or None,
            logit_bias=dict(self.logit_bias or {}),
            stop=list(self.stop or []),
            seed=None if self.seed is None else self.seed % (1 << 64),  # OpenAI's may be negative
            top_logprobs=self.top_logprobs or 0,
        )


# ---------------------------------------------------------------- responses
class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None
    refusal: None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


FinishReason = Literal["stop", "length"]


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: ChoiceLogprobs | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None


class Delta(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    finish_reason: FinishReason | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorDetail
