"""The course's reference server: one model behind FastAPI, done right (lessons 03 and 04).

``python -m course_utils.server [--host 127.0.0.1] [--port 8000] [--model PATH_OR_ID] [--naive]
[--max-batch-size N] [--max-wait-ms MS] [--max-concurrent-requests N] [--api-key KEY]``

Endpoints (shapes: ../shared/reference/serving-api.md), so that TGI's and OpenAI's clients work:

- TGI: ``POST /generate``, ``POST /generate_stream`` (server-sent events), ``POST /`` (with
  ``"stream"``), ``GET /health``, ``GET /info``, ``GET /metrics`` (Prometheus, TGI's names);
- OpenAI: ``POST /v1/chat/completions`` (plain and streamed), ``GET /v1/models``.

What "done right" means, each point against a pitfall of the usual tutorial (``--naive``):

- a JSON body validated by pydantic, then by ``course_utils.generation`` (lesson 02's rules);
  every bad input is a 422 that says what is allowed, never a 500, and the server keeps serving;
- the model runs in the engine's worker thread (``course_utils.server.engine``), never on the event loop,
  so ``/health`` answers while generating; requests queue there and are batched together;
- a full queue answers 429 "Model is overloaded" at once; a request past its timeout gets a clear
  error; a client that goes away stops its generation;
- an unexpected error is logged with its traceback and answered with a generic 500 that leaks
  nothing; the server binds 127.0.0.1 unless told otherwise; an optional API key (Bearer).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from .. import __version__
from .engine import (
    DEFAULT_MAX_NEW_TOKENS,
    MAX_NEW_TOKENS_LIMIT,
    Engine,
    Overloaded,
    RequestTimedOut,
    ValidationFailed,
)
from ..generation import GenerationParams

__all__ = ["BackgroundServer", "Engine", "create_app", "create_naive_app", "free_port", "main"]

log = logging.getLogger("course_utils.server")


# ---------------------------------------------------------------- request shapes
Number = StrictFloat | StrictInt


class Parameters(BaseModel):
    """TGI's ``parameters``. Unknown keys are ignored (clients send many TGI options as null)."""

    model_config = ConfigDict(extra="ignore")

    max_new_tokens: StrictInt | None = None
    do_sample: StrictBool | None = None
    temperature: Number | None = None
    top_k: StrictInt | None = None
    top_p: Number | None = None
    repetition_penalty: Number | None = None
    stop: list[StrictStr] | None = None
    seed: StrictInt | None = None
    return_full_text: StrictBool | None = None
    details: StrictBool | None = None

    def to_params(self) -> GenerationParams:
        return GenerationParams(
            max_new_tokens=self.max_new_tokens,  # None: the engine's default
            do_sample=self.do_sample, temperature=self.temperature, top_k=self.top_k,
            top_p=self.top_p, repetition_penalty=self.repetition_penalty,
            stop=list(self.stop or []), seed=self.seed)


class GenerateRequest(BaseModel):
    inputs: StrictStr
    parameters: Parameters = Field(default_factory=Parameters)


class CompatRequest(GenerateRequest):
    """``POST /``: TGI's compatibility route, where ``stream`` picks the answer's form."""

    stream: StrictBool = False


class TextPart(BaseModel):
    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: StrictStr | list[TextPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictBool = False


class ChatRequest(BaseModel):
    """OpenAI's chat request; options this server does not implement are ignored when unset."""

    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    temperature: Number | None = Field(None, ge=0, le=2)
    top_p: Number | None = Field(None, ge=0, le=1)
    presence_penalty: Number | None = Field(None, ge=-2, le=2)
    frequency_penalty: Number | None = Field(None, ge=-2, le=2)
    seed: StrictInt | None = None
    stop: StrictStr | list[StrictStr] | None = None
    n: StrictInt | None = Field(None, ge=1, le=1, description="only 1 is supported")
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = None

    def to_params(self) -> GenerationParams:
        limit = self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens
        sampling = self.temperature is not None and self.temperature != 0  # 0 or unset: greedy
        return GenerationParams(
            max_new_tokens=limit,  # None: the engine's default
            do_sample=sampling,
            temperature=self.temperature if sampling else None,  # a negative one fails validation
            top_p=self.top_p if sampling else None,
            stop=[self.stop] if isinstance(self.stop, str) else list(self.stop or []),
            seed=self.seed)


# ---------------------------------------------------------------- response shapes (the OpenAPI schema)
class TGIError(BaseModel):
    error: str
    error_type: str


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class TokenOut(BaseModel):
    id: int
    text: str
    logprob: float | None = None
    special: bool


class DetailsOut(BaseModel):
    finish_reason: Literal["length", "eos_token", "stop_sequence"]
    generated_tokens: int
    seed: int | None = None
    tokens: list[TokenOut] | None = None


class GenerateOut(BaseModel):
    generated_text: str
    details: DetailsOut | None = None


class HealthOut(BaseModel):
    status: str


class ChatMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str


class ChoiceOut(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: UsageOut


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelsOut(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]


class InfoOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_id: str
    max_input_tokens: int
    max_total_tokens: int
    max_new_tokens: int
    max_stop_sequences: int
    max_concurrent_requests: int
    max_body_bytes: int
    version: str


_ERRORS = {400: "Unreadable body", 401: "Missing or wrong API key (only with --api-key)",
           413: "Body too large", 422: "Input validation error", 429: "Model is overloaded",
           500: "Internal server error (details in the server log only)", 504: "Request timed out"}


_SSE_EVENT = {"type": "object", "properties": {"data": {"type": "string"}, "event": {"type": "string"},
                                               "id": {"type": "string"}}}


def _documented(*codes: int, openai: bool = False, ok=None, stream: bool = False) -> dict:
    """The ``responses`` of a route for the OpenAPI schema: its answer and its error codes.

    Errors are always JSON, also on a streaming route (they come before the stream starts).
    """
    error = OpenAIError if openai else TGIError
    responses = {code: {"model": error, "description": _ERRORS[code], "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{error.__name__}"}}}}
        for code in codes}
    if ok is not None:
        responses[200] = {"model": ok, "description": "The answer"}
        if stream:
            responses[200]["content"] = {"text/event-stream": {"itemSchema": _SSE_EVENT}}
            responses[200]["description"] = "The answer, or server-sent events when `stream` is true"
    return responses


# ---------------------------------------------------------------- errors, in both APIs' shapes
def _is_openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def _error(request: Request, status: int, message: str, error_type: str, param: str | None = None):
    if _is_openai(request):
        body = {"error": {"message": message, "type": error_type, "param": param, "code": None}}
    else:
        body = {"error": message, "error_type": error_type}
    return JSONResponse(body, status_code=status)


def _invalid(request: Request, message: str, param: str | None = None):
    """A request that breaks a rule: OpenAI answers 400 ``invalid_request_error``, TGI 422."""
    if _is_openai(request):
        return _error(request, 400, message, "invalid_request_error", param)
    return _error(request, 422, message, "validation")


OVERLOADED = "Model is overloaded"


# ---------------------------------------------------------------- metrics
class Metrics:
    """Prometheus metrics under TGI's names, with prometheus-client, one registry per app.

    prometheus-client follows OpenMetrics and adds ``_total`` to counters
    (``tgi_request_count_total``); TGI's own exporter writes ``tgi_request_count``.
    """

    def __init__(self, engine: Engine) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        seconds = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
        tokens = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
        self.count = Counter("tgi_request_count", "Requests received", registry=r)
        self.success = Counter("tgi_request_success", "Requests answered successfully", registry=r)
        self.failure = Counter("tgi_request_failure", "Failed requests, by kind", ["err"], registry=r)
        self.duration = Histogram("tgi_request_duration", "Request duration (s)", buckets=seconds, registry=r)
        self.queue_duration = Histogram("tgi_request_queue_duration", "Time in the queue (s)",
                                        buckets=seconds, registry=r)
        self.input_length = Histogram("tgi_request_input_length", "Prompt tokens", buckets=tokens, registry=r)
        self.generated = Histogram("tgi_request_generated_tokens", "Generated tokens", buckets=tokens,
                                   registry=r)
        self.per_token = Histogram("tgi_request_mean_time_per_token_duration",
                                   "Mean time per generated token (s)",
                                   buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1), registry=r)
        Gauge("tgi_queue_size", "Requests waiting", registry=r).set_function(lambda: engine.queue_size)
        Gauge("tgi_batch_current_size", "Requests in the running batch",
              registry=r).set_function(lambda: engine.running_batch_size)

    def finished(self, summary: dict, prompt_tokens: int, started: float) -> None:
        self.success.inc()
        self.duration.observe(time.monotonic() - started)
        self.queue_duration.observe(summary["queue_time"])
        self.input_length.observe(prompt_tokens)
        self.generated.observe(len(summary["ids"]))
        if summary["ids"]:
            self.per_token.observe(summary["inference_time"] / len(summary["ids"]))

    def render(self) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


# ---------------------------------------------------------------- the app
class _Admitted:
    """A validated, queued request: what a generation endpoint needs."""

    def __init__(self, job, prompt_ids, params, started) -> None:
        self.job, self.prompt_ids, self.params, self.started = job, prompt_ids, params, started


MAX_BODY_BYTES = 1 << 20  # 1 MiB: some 250,000 tokens of text, far beyond the model's context


def create_app(engine: Engine, *, api_key: str | None = None, served_model_name: str | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, cors_origins: list[str] | None = None) -> FastAPI:
    """The reference server around ``engine``.

    ``api_key``: every route but /health needs ``Authorization: Bearer <key>``.
    ``max_body_bytes``: larger bodies get 413 before they are read.
    ``cors_origins``: browser origins allowed to call the server (none by default: CORS off).
    """
    app = FastAPI(title="LLM inference course: reference server", version=__version__)
    metrics = Metrics(engine)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    model_name = served_model_name or Path(str(engine.model_id)).name
    app.state.engine, app.state.metrics = engine, metrics

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        metrics.failure.labels(err="validation").inc()
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _invalid(request, "Input validation error: the body is not valid JSON")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _invalid(request, f"Input validation error: `{where}`: {first.get('msg', 'invalid')}", where)

    @app.exception_handler(ValidationFailed)
    async def rule_broken(request: Request, exc: ValidationFailed):
        metrics.failure.labels(err="validation").inc()
        return _invalid(request, f"Input validation error: {exc}", getattr(exc, "param", None))

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded):
        metrics.failure.labels(err="overloaded").inc()
        return _error(request, 429, OVERLOADED, "overloaded")

    @app.exception_handler(RequestTimedOut)
    async def timed_out(request: Request, exc: RequestTimedOut):
        metrics.failure.labels(err="timeout").inc()
        return _error(request, 504, f"Request timed out: {exc}. Ask for fewer tokens, or retry later.",
                      "timeout")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # FastAPI's own 4xx (unknown route, wrong method, a body it cannot read), in our shapes.
        kinds = {400: "validation", 404: "not_found", 405: "method_not_allowed", 413: "validation"}
        message = {400: "the body could not be read (too deeply nested?)", 404: "Not found",
                   405: "Method not allowed", 413: f"the body is larger than {max_body_bytes} bytes"}
        response = _error(request, exc.status_code, message.get(exc.status_code, "Request error"),
                          kinds.get(exc.status_code, "error"))
        if exc.status_code == 405 and exc.headers:
            response.headers.update(exc.headers)
        return response

    app.add_middleware(CatchAll, on_error=lambda: metrics.failure.labels(err="generation").inc())

    async def authorized(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), api_key.encode()):  # constant time
            raise _Unauthorized()

    @app.exception_handler(_Unauthorized)
    async def unauthorized(request: Request, exc: Exception):
        response = _error(request, 401, "Missing or wrong API key: send `Authorization: Bearer <key>`.",
                          "authentication")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    guarded = [Depends(authorized)]

    async def admit(prompt: str, params: GenerationParams) -> _Admitted:
        """Validate (off the event loop: it tokenizes), then queue; before any response starts."""
        metrics.count.inc()
        started = time.monotonic()
        params, prompt_ids = await run_in_threadpool(engine.check, prompt, params)
        return _Admitted(engine.submit(prompt_ids, params), prompt_ids, params, started)

    async def collect(request: Request, admitted: _Admitted) -> tuple[list[dict], dict]:
        """Wait for a whole answer; a client that disconnects meanwhile cancels it."""
        def drain():
            events = list(engine.events(admitted.job))
            return events[:-1], events[-1]

        task = asyncio.ensure_future(run_in_threadpool(drain))
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if not task.done() and await request.is_disconnected():
                admitted.job.cancel.set()
        tokens, summary = task.result()
        metrics.finished(summary, len(admitted.prompt_ids), admitted.started)
        return tokens, summary

    def tgi_token(event: dict) -> dict:
        return {"id": event["id"], "text": event["text"], "logprob": None, "special": event["special"]}

    def tgi_answer(tokens, summary, admitted, details: bool) -> dict:
        answer = {"generated_text": summary["text"]}
        if details:
            answer["details"] = {"finish_reason": summary["finish_reason"],
                                 "generated_tokens": len(summary["ids"]), "seed": admitted.params.seed,
                                 "tokens": [tgi_token(t) for t in tokens]}
        return answer

    async def tgi_events(admitted: _Admitted):
        """TGI stream events; the last one carries the whole text and the details."""
        pending = None
        try:
            async for event in iterate_in_threadpool(engine.events(admitted.job)):
                if event.get("summary"):
                    metrics.finished(event, len(admitted.prompt_ids), admitted.started)
                    last = pending or {"index": 0, "token": None}
                    last["generated_text"] = event["text"]
                    last["details"] = {"finish_reason": event["finish_reason"],
                                       "generated_tokens": len(event["ids"]), "seed": admitted.params.seed}
                    yield last
                    return
                if pending is not None:
                    yield pending
                pending = {"index": (pending or {"index": 0})["index"] + 1, "token": tgi_token(event),
                           "generated_text": None, "details": None}
        except RequestTimedOut as err:
            metrics.failure.labels(err="timeout").inc()
            yield {"error": f"Request timed out: {err}", "error_type": "timeout"}
        except Exception:
            metrics.failure.labels(err="generation").inc()
            log.exception("error while streaming")
            yield {"error": "Internal server error; the server log has the details.",
                   "error_type": "generation"}
        finally:
            admitted.job.cancel.set()  # normal end, error, or the client went away

    # ------------------------------------------------------------ TGI routes
    @app.get("/health", response_model=None, responses={
        200: {"model": HealthOut}, 503: {"model": HealthOut, "description": "The model worker stopped"}})
    async def health():
        if not engine.alive:
            return JSONResponse({"status": "unavailable", "error": "the model worker stopped"}, 503)
        return {"status": "ok"}

    @app.get("/info", dependencies=guarded, response_model=None, responses=_documented(401, 500, ok=InfoOut))
    async def info():
        return {**engine.info(), "model_id": model_name, "max_body_bytes": max_body_bytes}

    @app.get("/metrics", dependencies=guarded, response_class=Response, responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"},
        **_documented(401, 500)})
    async def prometheus_metrics():
        return metrics.render()

    async def admitted_tgi(body: GenerateRequest) -> tuple[GenerateRequest, _Admitted]:
        return body, await admit(body.inputs, body.parameters.to_params())

    @app.post("/generate", dependencies=guarded, response_model=None,
              responses=_documented(400, 401, 413, 422, 429, 500, 504, ok=GenerateOut))
    async def generate(request: Request, checked: tuple = Depends(admitted_tgi)):
        body, admitted = checked
        tokens, summary = await collect(request, admitted)
        return tgi_answer(tokens, summary, admitted, bool(body.parameters.details))

    @app.post("/generate_stream", dependencies=guarded, response_class=EventSourceResponse,
              responses=_documented(400, 401, 413, 422, 429, 500))
    async def generate_stream(checked: tuple = Depends(admitted_tgi)):
        async for event in tgi_events(checked[1]):
            yield event

    async def admitted_compat(body: CompatRequest) -> tuple[CompatRequest, _Admitted]:
        return body, await admit(body.inputs, body.parameters.to_params())

    @app.post("/", dependencies=guarded, response_model=None,
              responses=_documented(400, 401, 413, 422, 429, 500, 504, ok=list[GenerateOut], stream=True))
    async def compat(request: Request, checked: tuple = Depends(admitted_compat)):
        body, admitted = checked
        if body.stream:
            return EventSourceResponse(_encode(tgi_events(admitted)))
        tokens, summary = await collect(request, admitted)
        return [tgi_answer(tokens, summary, admitted, bool(body.parameters.details))]

    # ------------------------------------------------------------ OpenAI routes
    @app.get("/v1/models", dependencies=guarded, response_model=None,
             responses=_documented(401, 500, openai=True, ok=ModelsOut))
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model",
                                            "created": int(engine.created), "owned_by": "course"}]}

    async def admitted_chat(body: ChatRequest) -> tuple[ChatRequest, _Admitted]:
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        prompt = await run_in_threadpool(engine.tokenizer.apply_chat_template, messages,
                                         tokenize=False, add_generation_prompt=True)
        return body, await admit(prompt, body.to_params())

    def usage(summary, admitted) -> dict:
        completion = len(summary["ids"])
        return {"prompt_tokens": len(admitted.prompt_ids), "completion_tokens": completion,
                "total_tokens": len(admitted.prompt_ids) + completion}

    def openai_finish(reason: str) -> str:
        return "length" if reason == "length" else "stop"

    @app.post("/v1/chat/completions", dependencies=guarded, response_model=None,
              responses=_documented(400, 401, 413, 422, 429, 500, 504, openai=True, ok=ChatOut, stream=True))
    async def chat(request: Request, checked: tuple = Depends(admitted_chat)):
        body, admitted = checked
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            return EventSourceResponse(_encode(chat_chunks(body, admitted, completion_id, created)))
        tokens, summary = await collect(request, admitted)
        return {"id": completion_id, "object": "chat.completion", "created": created, "model": model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": summary["text"]},
                             "finish_reason": openai_finish(summary["finish_reason"]), "logprobs": None}],
                "usage": usage(summary, admitted)}

    async def chat_chunks(body: ChatRequest, admitted: _Admitted, completion_id: str, created: int):
        def chunk(content: str | None, finish: str | None) -> dict:
            delta = {"role": "assistant", "content": content}
            return {
                "id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

        pending = None
        try:
            async for event in iterate_in_threadpool(engine.events(admitted.job)):
                if event.get("summary"):
                    metrics.finished(event, len(admitted.prompt_ids), admitted.started)
                    yield chunk(pending if pending is not None else "", openai_finish(event["finish_reason"]))
                    if body.stream_options is not None and body.stream_options.include_usage:
                        yield {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                               "model": model_name, "choices": [], "usage": usage(event, admitted)}
                    break
                if pending is not None:
                    yield chunk(pending, None)
                pending = event["text"]
        except RequestTimedOut as err:
            metrics.failure.labels(err="timeout").inc()
            yield {"error": {"message": f"Request timed out: {err}", "type": "timeout",
                             "param": None, "code": None}}
        except Exception:
            metrics.failure.labels(err="generation").inc()
            log.exception("error while streaming")
            yield {"error": {"message": "Internal server error", "type": "generation",
                             "param": None, "code": None}}
        finally:
            admitted.job.cancel.set()
        yield "[DONE]"

    return app


class _Unauthorized(Exception):
    pass


class CatchAll:
    """ASGI middleware: an unexpected error is logged with its traceback and answered with a JSON 500.

    Starlette's own last-resort handler answers 500 and then re-raises the error, and uvicorn then
    closes the connection: a client's next request on that keep-alive connection fails. This one
    does not re-raise, so the connection and the server stay usable.
    """

    def __init__(self, app, on_error=None) -> None:
        self.app, self.on_error = app, on_error

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if self.on_error is not None:
                self.on_error()
            if started:  # too late for a status: end the body cleanly
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            openai = scope.get("path", "").startswith("/v1/")
            message = "Internal server error; the server log has the details."
            body = {"error": {"message": message, "type": "generation", "param": None, "code": None}} \
                if openai else {"error": message, "error_type": "generation"}
            await JSONResponse(body, status_code=500)(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body above ``max_bytes`` gets 413, and is never read in full.

    Written by hand because neither Starlette nor FastAPI limits body size (uvicorn does not
    either): it checks Content-Length first, then counts the bytes of a chunked body as they come.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._too_large(scope, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope, send):
        openai = scope.get("path", "").startswith("/v1/")
        message = f"the body is larger than the limit of {self.max_bytes} bytes"
        body = {"error": {"message": message, "type": "validation", "param": None, "code": None}} if openai \
            else {"error": message, "error_type": "validation"}
        await JSONResponse(body, status_code=413)(scope, None, send)


class _TooLarge(StarletteHTTPException):
    """Raised while reading a body past the limit. An HTTPException, so that FastAPI passes it on
    (it turns other errors raised while reading a body into a 400) and the app answers 413."""

    def __init__(self) -> None:
        super().__init__(413)


async def _encode(events):
    """Server-sent events as text for a route that answers JSON or a stream: ``data: ...`` and a
    blank line each (FastAPI's own formatter). Dicts go as JSON, strings as they are (``[DONE]``)."""
    from fastapi.sse import format_sse_event

    async for event in events:
        data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"),
                                                               ensure_ascii=False)
        yield format_sse_event(data_str=data)


def create_naive_app(engine: Engine) -> FastAPI:
    """The version many tutorials show, kept to measure what goes wrong (lesson 03).

    An ``async def`` endpoint calls the model directly and waits for it (the event loop stalls,
    /health waits), the prompt is a query parameter (one user message), and ``str(e)`` goes back
    in a 500.
    """
    app = FastAPI(title="naive server (for comparison only)")

    @app.post("/generate")
    async def generate(prompt: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
        try:
            text = engine.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                        tokenize=False, add_generation_prompt=True)
            answer = engine.generate(text, GenerationParams(max_new_tokens=max_new_tokens))
            return {"generated_text": answer["text"]}
        except Exception as e:  # noqa: BLE001 - the point of this version
            return JSONResponse({"error": str(e)}, status_code=500)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app


# ---------------------------------------------------------------- running it
class BackgroundServer:
    """uvicorn serving ``app`` in a daemon thread: for a notebook's kernel, or a test.

    ``uvicorn.run()`` blocks, and a notebook's kernel already runs an event loop of its own, so the
    server gets its own thread (and loop). Use it as a context manager, or call ``stop()``::

        with BackgroundServer(app) as server:
            httpx.get(f"{server.url}/health")
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None,
                 log_level: str = "warning", start_timeout: float = 60.0) -> None:
        import uvicorn

        port = port or free_port(host)
        if not _port_is_free(host, port):
            raise RuntimeError(f"port {port} on {host} is in use (an earlier server still running?). "
                               "Stop it with .stop(), or pass another port=.")
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
        self.thread = threading.Thread(target=self._serve, daemon=True, name=f"uvicorn:{port}")
        self.thread.start()
        deadline = time.monotonic() + start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start on {host}:{port}; its log above says "
                                   "why (a port in use? pass another port=).")
            time.sleep(0.02)

    def _serve(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; __init__ reports it
            pass

    def stop(self, timeout: float = 30.0) -> None:
        """Ask uvicorn to finish (it lets running requests end first) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"BackgroundServer({self.url}, {'running' if self.running else 'stopped'})"


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to tell the operator when the server is reachable from other machines without a key."""
    if api_key or host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"listening on {host} without an API key: anyone who can reach this address can use the "
            "model. Pass --api-key, or bind 127.0.0.1.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.server",
                                     description="Serve the course model over HTTP (TGI and OpenAI APIs).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", help="model folder or hub id (default: the course model)")
    parser.add_argument("--naive", action="store_true", help="serve the tutorial version instead")
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS_LIMIT,
                        help="largest max_new_tokens a request may ask for")
    parser.add_argument("--max-batch-size", type=int, default=16,
                        help="most requests generated together (1: no batching; default 16)")
    parser.add_argument("--max-wait-ms", type=float, default=50.0,
                        help="how long a batch waits to fill before it starts (default 50)")
    parser.add_argument("--max-concurrent-requests", type=int, default=64,
                        help="requests queued or running; more get 429 at once (default 64)")
    parser.add_argument("--request-timeout", type=float, default=120.0,
                        help="seconds a request may take, waiting included (default 120)")
    parser.add_argument("--api-key", help="require `Authorization: Bearer KEY` (default: no key)")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES,
                        help=f"larger request bodies get 413 (default {MAX_BODY_BYTES})")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="a browser origin allowed to call the server, e.g. http://localhost:3000 "
                             "(repeatable; default none: CORS off)")
    args = parser.parse_args(argv)
    import uvicorn

    from ..models import ModelNotAvailable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    warning = exposure_warning(args.host, args.api_key)
    if warning:
        log.warning(warning)
    try:
        started = time.perf_counter()
        engine = Engine(args.model, max_new_tokens_limit=args.max_new_tokens,
                        max_batch_size=1 if args.naive else args.max_batch_size,
                        max_wait_ms=args.max_wait_ms, max_concurrent_requests=args.max_concurrent_requests,
                        request_timeout=args.request_timeout)
    except ModelNotAvailable as err:
        print(f"error: {err}")
        return 1
    log.info("model %s loaded in %.1f s", engine.model_id, time.perf_counter() - started)
    app = create_naive_app(engine) if args.naive else create_app(
        engine, api_key=args.api_key, max_body_bytes=args.max_body_bytes, cors_origins=args.cors_origin)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
