"""TGI's routes: ``POST /generate``, ``POST /generate_stream``, ``POST /``, ``GET /health``, ``/info``,
``/metrics``.

Shapes: TGI's (https://huggingface.github.io/text-generation-inference/), built with the models of
``tgi/protocol.py``. ``huggingface_hub.InferenceClient(url).text_generation(...)`` calls ``POST /``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ... import __version__
from .. import sse
from ..auth import authorized
from ..errors import stream_error
from ..events import Finished
from ..events import Token as TokenEvent
from ..openapi import GENERATION_ERRORS, documented
from ..serving import Answer, Generation, Serving
from .protocol import (
    CompatGenerateRequest,
    Details,
    GenerateRequest,
    GenerateResponse,
    Health,
    Info,
    StreamDetails,
    StreamResponse,
    TGIErrorResponse,
    Token,
)

router = APIRouter()
guarded = [Depends(authorized)]
RENAMED = {"top_logprobs": "top_n_tokens"}


def _serving(request: Request) -> Serving:
    return request.app.state.serving


ServingDep = Annotated[Serving, Depends(_serving)]


def _token(event: TokenEvent) -> Token:
    return Token(id=event.id, text=event.text, logprob=event.logprob, special=event.special)


def _top(event: TokenEvent) -> list[Token]:
    return [Token(id=t.id, text=t.text, logprob=t.logprob, special=False) for t in event.top]


def build_response(body: GenerateRequest, answer: Answer, seed: int | None) -> GenerateResponse:
    text = answer.finished.text
    if body.parameters.return_full_text:
        text = body.inputs + text
    details = None
    if body.parameters.details:
        details = Details(
            finish_reason=answer.finished.reason,
            generated_tokens=answer.finished.generated_tokens,
            seed=seed,
            tokens=[_token(t) for t in answer.tokens],
            top_tokens=[_top(t) for t in answer.tokens] if body.parameters.top_n_tokens else None,
        )
    return GenerateResponse(generated_text=text, details=details)


async def _admit(serving: Serving, body: GenerateRequest) -> Generation:
    params = body.parameters.to_sampling_params()
    return await serving.admit(body.inputs, params, truncate=body.parameters.truncate, renamed=RENAMED)


async def _events(serving: Serving, body: GenerateRequest, generation: Generation, path: str):
    """TGI's stream: one event per token; the last one also carries the whole text and the details."""
    pending = None
    try:
        async for event in serving.stream(generation):
            if isinstance(event, Finished):
                last = pending or StreamResponse(
                    index=0, token=Token(id=0, text="", logprob=None, special=True)
                )
                text = (body.inputs if body.parameters.return_full_text else "") + event.text
                last.generated_text = text
                last.details = StreamDetails(
                    finish_reason=event.reason,
                    generated_tokens=event.generated_tokens,
                    seed=event.seed,
                    input_length=event.prompt_tokens,
                )
                yield last
                return
            if pending is not None:
                yield pending
            pending = StreamResponse(
                index=(pending.index if pending else 0) + 1,
                token=_token(event),
                top_tokens=_top(event) if body.parameters.top_n_tokens else None,
            )
    except Exception as err:  # noqa: BLE001 - the status (200) is sent: say it in the stream
        serving.stream_failed(err)
        yield stream_error(path, err)


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "The worker stopped"}},
)
async def health(request: Request):
    if not request.app.state.serving.engine.alive:
        return JSONResponse({"status": "unavailable", "error": "the model worker stopped"}, 503)
    return Health(status="ok")


@router.get(
    "/info", dependencies=guarded, response_model=Info, responses=documented(401, 500, error=TGIErrorResponse)
)
async def info(request: Request, serving: ServingDep) -> Info:
    engine_info = serving.engine.info()
    engine_info.update(
        model_id=serving.model_name, max_body_bytes=request.app.state.max_body_bytes, version=__version__
    )
    return Info(**engine_info)


@router.get(
    "/metrics",
    dependencies=guarded,
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"},
        **documented(401, 500, error=TGIErrorResponse),
    },
)
async def prometheus_metrics(serving: ServingDep):
    return serving.metrics.render()


@router.post(
    "/generate",
    dependencies=guarded,
    response_model=GenerateResponse,
    responses=documented(*GENERATION_ERRORS, error=TGIErrorResponse),
)
async def generate(request: Request, body: GenerateRequest, serving: ServingDep) -> GenerateResponse:
    generation = await _admit(serving, body)
    answer = await serving.collect(request, generation)
    return build_response(body, answer, answer.finished.seed)


@router.post(
    "/generate_stream",
    dependencies=guarded,
    response_model=None,
    responses=documented(*GENERATION_ERRORS, error=TGIErrorResponse, stream_only=True),
)
async def generate_stream(request: Request, body: GenerateRequest, serving: ServingDep):
    generation = await _admit(serving, body)
    return sse.response(_events(serving, body, generation, request.url.path))


@router.post(
    "/",
    dependencies=guarded,
    response_model=list[GenerateResponse],
    responses=documented(*GENERATION_ERRORS, error=TGIErrorResponse, ok=list[GenerateResponse], stream=True),
)
async def compat(request: Request, body: CompatGenerateRequest, serving: ServingDep):
    generation = await _admit(serving, body)
    if body.stream:
        return sse.response(_events(serving, body, generation, request.url.path))
    answer = await serving.collect(request, generation)
    return [build_response(body, answer, answer.finished.seed)]
