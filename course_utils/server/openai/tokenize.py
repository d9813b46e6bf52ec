"""vLLM's ``POST /tokenize`` and ``POST /detokenize``: the server's tokenizer, over HTTP.

A client counts a prompt's tokens before sending it (to stay within the context) or turns ids back
into text, with the server's own tokenizer. The shapes are vLLM's (its
``entrypoints/openai/serving_tokenization.py``): ``{"prompt": ...}`` or ``{"messages": [...]}``
(through the chat template) in, ``{"count", "max_model_len", "tokens", "token_strs"}`` out;
``{"tokens": [...]}`` in, ``{"prompt": ...}`` out.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator
from starlette.concurrency import run_in_threadpool

from ..auth import authorized
from ..errors import ValidationFailed
from ..openapi import documented
from ..tgi.protocol import TGIErrorResponse
from .protocol import Message
from .routes import ServingDep

router = APIRouter(dependencies=[Depends(authorized)])


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: StrictStr | None = None
    prompt: StrictStr | None = None
    messages: list[Message] | None = None
    add_generation_prompt: StrictBool = True
    add_special_tokens: StrictBool = Field(True, description="for a prompt; the chat template adds its own")
    return_token_strs: StrictBool = False

    @model_validator(mode="after")
    def _one(self):
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send either `prompt` or `messages`")
        if self.messages == []:
            raise ValueError("`messages`: send at least one message")
        return self


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None = None


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: StrictStr | None = None
    tokens: list[int]


class DetokenizeResponse(BaseModel):
    prompt: str


@router.post("/tokenize", response_model=TokenizeResponse,
             responses=documented(400, 401, 413, 422, 500, error=TGIErrorResponse))
async def tokenize(body: TokenizeRequest, serving: ServingDep) -> TokenizeResponse:
    tokenizer = serving.engine.tokenizer
    if body.messages is not None:
        messages = [m.for_template() for m in body.messages]
        text = await run_in_threadpool(tokenizer.apply_chat_template, messages, tokenize=False,
                                       add_generation_prompt=body.add_generation_prompt)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(body.prompt, add_special_tokens=body.add_special_tokens)["input_ids"]
    strs = tokenizer.convert_ids_to_tokens(ids) if body.return_token_strs else None
    return TokenizeResponse(count=len(ids), max_model_len=serving.engine.max_total_tokens, tokens=ids,
                            token_strs=strs)


@router.post("/detokenize", response_model=DetokenizeResponse,
             responses=documented(400, 401, 413, 422, 500, error=TGIErrorResponse))
async def detokenize(body: DetokenizeRequest, serving: ServingDep) -> DetokenizeResponse:
    size = len(serving.engine.tokenizer)
    if any(not 0 <= t < size for t in body.tokens):
        raise ValidationFailed(f"`tokens`: token ids go from 0 to {size - 1}", "tokens")
    return DetokenizeResponse(prompt=serving.engine.tokenizer.decode(body.tokens))
