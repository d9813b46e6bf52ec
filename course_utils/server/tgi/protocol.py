"""TGI's generation API: the request, validated as TGI validates it, and the response models.

Every field of TGI's ``GenerateParameters`` (its OpenAPI schema, ``docs/openapi.json`` in
text-generation-inference 3.x) is declared, with TGI's ranges: ``temperature``, ``top_k``,
``repetition_penalty`` strictly positive; ``top_p`` and ``typical_p`` strictly between 0 and 1;
``frequency_penalty`` from -2 to 2; at most 4 ``stop`` strings; ``top_n_tokens`` up to 5.
Served: all of them (``grammar``: ``{"type": "json", "value": <a JSON Schema>}`` or ``{"type":
"regex", "value": "<pattern>"}``, ``grammar.py``) except ``best_of`` > 1, ``decoder_input_details``,
``watermark`` and ``adapter_id``, which are refused with a message that says so (``null``,
``false`` and 1 pass).
Unknown parameters are refused, so that a typo is not silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from ..fields import integer, number, only
from ..sampling import SamplingParams

MAX_STOP = 4
MAX_TOP_N_TOKENS = 5  # TGI's default --max-top-n-tokens


def _stops(value):
    if value is not None and len(value) > MAX_STOP:
        raise ValueError(f"supports up to {MAX_STOP} stop sequences. Given: {len(value)}")
    if value is not None and any(s == "" for s in value):
        raise ValueError("stop sequences must not be empty")
    return value


class Grammar(BaseModel):
    """TGI's ``grammar`` parameter: the answer follows a JSON Schema or a regular expression."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["json", "regex"]
    value: dict | StrictStr = Field(description="a JSON Schema (an object) for json, a pattern for regex")

    def constraint(self):
        from ..grammar import Constraint, InvalidConstraint

        if self.type == "json":
            value = self.value
            if isinstance(value, str):  # TGI also takes the schema as a JSON text
                import json

                try:
                    value = json.loads(value)
                except ValueError:
                    raise InvalidConstraint("`grammar.value` is not a JSON Schema", "grammar") from None
            return Constraint.json_schema(value, "grammar")
        if not isinstance(self.value, str):
            raise InvalidConstraint("`grammar.value` must be a pattern (a string) for a regex grammar",
                                    "grammar")
        return Constraint("regex", self.value, "grammar")


class GenerateParameters(BaseModel):
    """TGI's ``parameters``, in the order of its schema."""

    model_config = ConfigDict(extra="forbid")

    adapter_id: only(why="LoRA adapters") = None
    best_of: integer(0, lo_open=True) | None = Field(
        None, description="only 1 on this server: ask for several answers with n on /v1/chat/completions"
    )
    decoder_input_details: only(False, why="prompt token details (decoder_input_details)") = None
    details: StrictBool | None = None
    do_sample: StrictBool | None = None
    frequency_penalty: number(-2, 2) | None = None
    grammar: Grammar | None = None
    max_new_tokens: integer(1) | None = None
    repetition_penalty: number(0, lo_open=True) | None = None
    return_full_text: StrictBool | None = None
    seed: integer(0, 2**64 - 1) | None = None
    stop: Annotated[list[StrictStr] | None, AfterValidator(_stops)] = None
    temperature: number(0, lo_open=True) | None = None
    top_k: integer(0, lo_open=True) | None = None
    top_n_tokens: integer(0, MAX_TOP_N_TOKENS) | None = None
    top_p: number(0, 1, lo_open=True, hi_open=True) | None = None
    truncate: integer(1) | None = Field(
        None, description="keep only the last `truncate` tokens of the prompt"
    )
    typical_p: number(0, 1, lo_open=True, hi_open=True) | None = None
    watermark: only(False, why="watermarking") = None

    def to_sampling_params(self) -> SamplingParams:
        if self.best_of not in (None, 1):
            from ..errors import ValidationFailed

            raise ValidationFailed(
                "`best_of` > 1 is not supported by this server: ask for several answers with "
                "`n` on /v1/chat/completions, or send several requests",
                "best_of",
            )
        return SamplingParams(
            max_new_tokens=self.max_new_tokens,  # None: the engine's default
            do_sample=self.do_sample,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            typical_p=self.typical_p,
            repetition_penalty=self.repetition_penalty,
            frequency_penalty=self.frequency_penalty or None,
            stop=list(self.stop or []),
            seed=self.seed,
            top_logprobs=self.top_n_tokens or 0,
            constraint=self.grammar.constraint() if self.grammar is not None else None,
        )


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: StrictStr
    parameters: GenerateParameters = Field(default_factory=GenerateParameters)


class CompatGenerateRequest(GenerateRequest):
    """``POST /``: TGI's compatibility route, where ``stream`` picks the answer's form."""

    stream: StrictBool = False


# ---------------------------------------------------------------- responses
class Token(BaseModel):
    id: int
    text: str
    logprob: float | None
    special: bool


FinishReason = Literal["length", "eos_token", "stop_sequence"]


class Details(BaseModel):
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None = None
    prefill: list[Token] = Field(default_factory=list)
    tokens: list[Token]
    top_tokens: list[list[Token]] | None = None


class GenerateResponse(BaseModel):
    generated_text: str
    details: Details | None = None


class StreamDetails(BaseModel):
    finish_reason: FinishReason
    generated_tokens: int
    seed: int | None = None
    input_length: int


class StreamResponse(BaseModel):
    index: int
    token: Token
    top_tokens: list[Token] | None = None
    generated_text: str | None = None
    details: StreamDetails | None = None


class Health(BaseModel):
    status: str
    error: str | None = None


class Info(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_id: str
    max_input_tokens: int
    max_total_tokens: int
    max_new_tokens: int
    max_stop_sequences: int
    max_best_of: int = 1
    max_top_n_tokens: int = MAX_TOP_N_TOKENS
    max_concurrent_requests: int
    max_client_batch_size: int = 1
    max_body_bytes: int
    version: str


class TGIErrorResponse(BaseModel):
    error: str
    error_type: str
