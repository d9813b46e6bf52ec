"""OpenAI's chat completions API: the request, validated, and the response models that build the answers.

Every field of OpenAI's ``POST /v1/chat/completions`` (https://platform.openai.com/docs/api-reference/chat/create)
is declared, in the order of its documentation, so that a value is either served or refused with a
400 that names the field: nothing is silently ignored. Unknown fields are refused too, as OpenAI does.

Served: ``messages`` (text, or text parts; assistant messages with ``tool_calls`` and ``content:
null``; ``tool`` messages; a message ``name``), ``model`` (any name), ``max_completion_tokens`` /
``max_tokens``, ``temperature`` (0 or unset: greedy, a deliberate difference from OpenAI's default
of 1 so that answers are reproducible), ``top_p`` (0: the most likely token), ``frequency_penalty``,
``presence_penalty``, ``logit_bias``, ``logprobs`` / ``top_logprobs``, ``n``, ``seed``, ``stop``,
``stream`` / ``stream_options``, ``response_format`` (``text``, ``json_object``, ``json_schema``),
``tools`` with ``tool_choice`` and ``parallel_tool_calls`` (``tools.py``). Accepted because they
change nothing in the answer: ``user``, ``metadata``, ``safety_identifier``, ``prompt_cache_key``,
``prompt_cache_retention``, ``service_tier``, ``store: false``, ``modalities: ["text"]``. Refused
with a message that says so: the old ``functions``, audio, images, files, predicted outputs,
reasoning, web search.

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


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    arguments: StrictStr = Field(description="the arguments as a JSON text, as OpenAI sends them")


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StrictStr
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    """A chat message: text (or text parts), an assistant's tool calls, or a tool's result."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["developer", "system", "user", "assistant", "tool"] = Field(
        description="`developer` is treated as `system`; `tool` carries a tool's result"
    )
    content: Content | None = Field(
        None, description="text, or a list of text parts (joined); null only for an assistant's tool calls")
    name: StrictStr | None = Field(None, description="accepted; the chat template has no place for it")
    refusal: only(why="refusals in earlier messages") = None
    tool_calls: list[ToolCall] | None = Field(None, description="an assistant's earlier calls")
    tool_call_id: StrictStr | None = Field(None, description="the call a `tool` message answers")
    function_call: only(why="the old function calling (use `tools`)") = None
    audio: only(why="audio") = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message has `tool_calls`")
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError("`content` may be null only in an assistant message with `tool_calls`")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a `tool` message needs the `tool_call_id` of the call it answers")
        return self

    @property
    def uses_tools(self) -> bool:
        return bool(self.tool_calls) or self.role == "tool"

    def for_template(self) -> dict:
        message = {"role": "system" if self.role == "developer" else self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.model_dump() for call in self.tool_calls]
        if self.tool_call_id:
            message["tool_call_id"] = self.tool_call_id
        return message


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = Field(None, description="a JSON Schema (default: no arguments)")
    strict: StrictBool | None = Field(None, description="accepted; calls always follow `parameters` here")


class Tool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: NamedFunction


class JSONSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Annotated[StrictStr, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: StrictStr | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema", description="default: any JSON value")
    strict: StrictBool | None = Field(None, description="accepted; the answer always follows the schema here")


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self):
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError('`json_schema` is required with `"type": "json_schema"`, and only then')
        return self


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
    parallel_tool_calls: StrictBool | None = Field(
        None, description="several calls in one answer (default true)")
    prediction: only(why="predicted outputs") = None
    presence_penalty: number(-2, 2) | None = None
    prompt_cache_key: StrictStr | None = Field(None, description="accepted; no effect")
    prompt_cache_retention: Literal["in-memory", "24h"] | None = Field(
        None, description="accepted; this server's prefix cache keeps recent prompts in memory")
    reasoning_effort: only(why="reasoning (this model does not reason)") = None
    response_format: ResponseFormat | None = None
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
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    tools: list[Tool] | None = None
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
        names = [tool.function.name for tool in self.tools or []]
        if len(set(names)) != len(names):
            raise ValueError("`tools`: each function needs a name of its own")
        if self.tool_choice not in (None, "none", "auto") and not self.tools:
            raise ValueError("`tool_choice` asks for a tool call, and there are no `tools`")
        if isinstance(self.tool_choice, NamedToolChoice) and self.tool_choice.function.name not in names:
            name = self.tool_choice.function.name
            raise ValueError(f"`tool_choice` names {name!r}, which is not in `tools`")
        if self.calls_tools and self.response_format is not None and self.response_format.type != "text":
            raise ValueError("`response_format` and tool calls together: this server constrains the answer "
                             "to one of them; send `tool_choice: \"none\"` or leave `response_format` out")
        return self

    @property
    def calls_tools(self) -> bool:
        """Whether the answer may be tool calls (``tools`` given and ``tool_choice`` not "none")."""
        return bool(self.tools) and self.tool_choice != "none"

    @property
    def uses_tool_template(self) -> bool:
        """The course's tool template renders the prompt: tools offered, or earlier calls in it."""
        return self.calls_tools or any(m.uses_tools for m in self.messages)

    def constraint(self):
        """What the answer must match (``grammar.Constraint``), or None."""
        from ..grammar import Constraint
        from ..tools import tool_constraint

        if self.calls_tools:
            tools = [tool.model_dump(exclude_none=True) for tool in self.tools]
            choice = self.tool_choice.model_dump() if isinstance(self.tool_choice, NamedToolChoice) else (
                self.tool_choice or "auto")
            return tool_constraint(tools, choice, self.parallel_tool_calls is not False)
        if self.response_format is None or self.response_format.type == "text":
            return None
        if self.response_format.type == "json_object":
            return Constraint.json_schema({"type": "object"})
        schema = self.response_format.json_schema.schema_
        return Constraint.json_schema({} if schema is None else schema)

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
            constraint=self.constraint(),
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
    content: str | None
    refusal: None = None
    tool_calls: list[ToolCall] | None = None


FinishReason = Literal["stop", "length", "tool_calls"]


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


class FunctionCallDelta(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCallDelta


class Delta(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


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
