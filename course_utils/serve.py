"""The course's reference server: one model behind FastAPI, done right (lesson 03).

``python -m course_utils.serve [--host 127.0.0.1] [--port 8000] [--model PATH_OR_ID] [--naive]``

Endpoints in TGI's shapes (../shared/reference/serving-api.md): ``POST /generate``,
``POST /generate_stream`` (server-sent events), ``GET /health``, ``GET /info``.

What "done right" means here, each point against a pitfall of the usual tutorial (``--naive``):

- a JSON body validated by pydantic, then by ``course_utils.generation`` (the same rules as
  lesson 02); every bad input is a 422 ``{"error": "Input validation error: ...", "error_type":
  "validation"}``, never a 500, and the server keeps serving;
- generation runs in a worker thread, never on the event loop, so ``/health`` answers while a
  generation runs; one lock around the model, because a pipeline/tokenizer is not thread-safe;
- streaming with FastAPI's own server-sent events; a client that goes away stops its generation;
- an unexpected error is logged with its traceback and answered with a generic 500 that leaks
  nothing; the server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import logging
import queue
import socket
import threading
import time
from collections.abc import Iterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from . import __version__
from .generation import (
    MAX_STOP_SEQUENCES,
    GenerationParams,
    InvalidGenerationParams,
    generate_kwargs,
    validate,
)

log = logging.getLogger("course_utils.serve")

DEFAULT_MAX_NEW_TOKENS = 64
MAX_NEW_TOKENS_LIMIT = 512


# ---------------------------------------------------------------- request and response shapes
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
    stop: list[StrictStr] = Field(default_factory=list)
    seed: StrictInt | None = None
    return_full_text: StrictBool | None = None
    details: StrictBool = False


class GenerateRequest(BaseModel):
    inputs: StrictStr
    parameters: Parameters = Field(default_factory=Parameters)


class ValidationFailed(Exception):
    """A request that breaks a rule; answered with TGI's 422 validation error."""


def _error(status: int, message: str, error_type: str) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status)


# ---------------------------------------------------------------- the model, one call at a time
class _TokenQueue:
    """A generate() streamer that hands each new token id to the consumer through a queue.

    transformers' TextIteratorStreamer yields decoded text only; TGI's stream events carry the
    token id too, so this streamer (a few lines) passes ids and the consumer decodes.
    """

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt
            self._prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self.queue.put(token_id)

    def end(self) -> None:
        self.queue.put(None)


class _Cancelled:
    """A stopping criterion that ends generation once ``event`` is set (the client went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool,
                          device=input_ids.device)


class Engine:
    """The model and tokenizer, and the one lock that serialises their use."""

    def __init__(self, model: str | None = None, *, dtype=None, device: str | None = None,
                 max_new_tokens_limit: int = MAX_NEW_TOKENS_LIMIT,
                 max_total_tokens: int | None = None) -> None:
        from .device import pick_device, pick_dtype
        from .models import load_model, load_tokenizer, resolve_model

        self.model_id = model or resolve_model().path
        self.device = device or pick_device()
        self.dtype = dtype or pick_dtype(self.device)
        self.tokenizer = load_tokenizer(self.model_id)
        self.model = load_model(self.model_id, dtype=self.dtype).to(self.device)
        context = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_total_tokens = min(max_total_tokens or context, context)
        self.max_new_tokens_limit = max_new_tokens_limit
        self.lock = threading.Lock()
        self._special_ids = set(self.tokenizer.all_special_ids)

    def check(self, request: GenerateRequest) -> tuple[GenerationParams, int]:
        """Validate a request against every rule; return the parameters and the prompt's length."""
        if not request.inputs.strip():
            raise ValidationFailed("`inputs` must not be empty")
        prompt_tokens = len(self.tokenizer(request.inputs)["input_ids"])
        p = request.parameters
        params = GenerationParams(
            max_new_tokens=DEFAULT_MAX_NEW_TOKENS if p.max_new_tokens is None else p.max_new_tokens,
            do_sample=p.do_sample, temperature=p.temperature, top_k=p.top_k, top_p=p.top_p,
            repetition_penalty=p.repetition_penalty, stop=list(p.stop), seed=p.seed)
        try:
            params = validate(params, max_new_tokens_limit=self.max_new_tokens_limit,
                              prompt_tokens=prompt_tokens, max_total_tokens=self.max_total_tokens)
        except InvalidGenerationParams as err:
            raise ValidationFailed(str(err)) from None
        return params, prompt_tokens

    def _run(self, prompt: str, params: GenerationParams, streamer=None,
             cancel: threading.Event | None = None):
        """generate() under the lock; returns the new token ids."""
        import torch
        from transformers import StoppingCriteriaList, set_seed

        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        kwargs = generate_kwargs(params, tokenizer=self.tokenizer)
        if cancel is not None:
            kwargs["stopping_criteria"] = StoppingCriteriaList([_Cancelled(cancel)])
        with self.lock:
            if params.seed is not None:
                set_seed(params.seed)
            with torch.inference_mode():
                out = self.model.generate(**inputs, **kwargs, streamer=streamer,
                                          pad_token_id=self.tokenizer.pad_token_id)
        return out[0, inputs["input_ids"].shape[1]:].tolist()

    def _finish_reason(self, new_ids: list[int], text: str, params: GenerationParams) -> str:
        if new_ids and new_ids[-1] == self.tokenizer.eos_token_id:
            return "eos_token"
        if any(text.endswith(stop) for stop in params.stop):
            return "stop_sequence"
        return "length"

    def _token(self, token_id: int, text: str) -> dict:
        # logprob is not computed yet (null); TGI's clients accept a missing value here.
        return {"id": token_id, "text": text, "logprob": None, "special": token_id in self._special_ids}

    def generate(self, prompt: str, params: GenerationParams, details: bool = False) -> dict:
        """Blocking: the whole answer, in TGI's /generate shape."""
        new_ids = self._run(prompt, params)
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        result = {"generated_text": text}
        if details:
            result["details"] = {
                "finish_reason": self._finish_reason(new_ids, text, params),
                "generated_tokens": len(new_ids),
                "seed": params.seed,
                "tokens": [self._token(i, self.tokenizer.decode([i])) for i in new_ids],
            }
        return result

    def stream(self, prompt: str, params: GenerationParams, cancel: threading.Event) -> Iterator[dict]:
        """Blocking iterator of TGI stream events; generate() runs in its own thread.

        Setting ``cancel`` stops generation at the next token, and the thread releases the lock
        even if nobody reads the rest of this iterator.
        """
        streamer = _TokenQueue()

        def work():
            try:
                self._run(prompt, params, streamer=streamer, cancel=cancel)
            except Exception as err:  # handed to the consumer, which raises it
                streamer.queue.put(err)
                streamer.queue.put(None)

        threading.Thread(target=work, daemon=True, name="generate").start()
        ids: list[int] = []
        text = ""
        pending = None  # each event waits for the next token: the last one carries the summary
        while (item := streamer.queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            ids.append(item)
            full = self.tokenizer.decode(ids, skip_special_tokens=True)
            piece, text = full[len(text):], full
            if pending is not None:
                yield pending
            pending = {"index": len(ids), "token": self._token(item, piece),
                       "generated_text": None, "details": None}
        last = pending or {"index": 0, "token": None}
        last["generated_text"] = text
        last["details"] = {"finish_reason": self._finish_reason(ids, text, params),
                           "generated_tokens": len(ids), "seed": params.seed}
        yield last

    def info(self) -> dict:
        return {
            "model_id": str(self.model_id),
            "model_dtype": str(self.dtype).removeprefix("torch."),
            "model_device_type": self.device,
            "max_input_tokens": self.max_total_tokens - 1,
            "max_total_tokens": self.max_total_tokens,
            "max_new_tokens": self.max_new_tokens_limit,
            "max_stop_sequences": MAX_STOP_SEQUENCES,
            "max_concurrent_requests": 1,
            "version": __version__,
        }


# ---------------------------------------------------------------- the app
def create_app(engine: Engine) -> FastAPI:
    """The fixed server around ``engine``."""
    app = FastAPI(title="LLM inference course: reference server", version=__version__)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(422, "Input validation error: the body is not valid JSON", "validation")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _error(422, f"Input validation error: `{where}`: {first.get('msg', 'invalid')}",
                      "validation")

    @app.exception_handler(ValidationFailed)
    async def rule_broken(request: Request, exc: ValidationFailed):
        return _error(422, f"Input validation error: {exc}", "validation")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "Internal server error; the server log has the details.", "generation")

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/info")
    async def info():
        return engine.info()

    async def checked(request: GenerateRequest) -> tuple[GenerateRequest, GenerationParams]:
        # A dependency runs before the response starts: a bad streaming request gets its 422
        # as a JSON answer, not as a broken stream. Tokenizing runs off the event loop too.
        params, _ = await run_in_threadpool(engine.check, request)
        return request, params

    @app.post("/generate")
    async def generate(checked_request: tuple = Depends(checked)):
        request, params = checked_request
        return await run_in_threadpool(engine.generate, request.inputs, params,
                                       request.parameters.details)

    @app.post("/generate_stream", response_class=EventSourceResponse)
    async def generate_stream(checked_request: tuple = Depends(checked)):
        request, params = checked_request
        cancel = threading.Event()
        try:
            async for event in iterate_in_threadpool(engine.stream(request.inputs, params, cancel)):
                yield event
        finally:
            cancel.set()  # normal end, error, or the client went away: stop generating

    return app


def create_naive_app(engine: Engine) -> FastAPI:
    """The version many tutorials show, kept to measure what goes wrong (lesson 03).

    An ``async def`` endpoint calls the model directly (the event loop stalls, /health waits),
    the prompt is a query parameter, and ``str(e)`` goes back to the client in a 500.
    """
    app = FastAPI(title="naive server (for comparison only)")

    @app.post("/generate")
    async def generate(prompt: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
        try:
            params = GenerationParams(max_new_tokens=max_new_tokens)
            return {"generated_text": engine.generate(prompt, params)["generated_text"]}
        except Exception as e:  # noqa: BLE001 - the point of this version
            return JSONResponse({"error": str(e)}, status_code=500)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.serve",
                                     description="Serve the course model over HTTP (TGI's API).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", help="model folder or hub id (default: the course model)")
    parser.add_argument("--naive", action="store_true", help="serve the tutorial version instead")
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS_LIMIT,
                        help="largest max_new_tokens a request may ask for")
    args = parser.parse_args(argv)
    import uvicorn

    from .models import ModelNotAvailable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        started = time.perf_counter()
        engine = Engine(args.model, max_new_tokens_limit=args.max_new_tokens)
    except ModelNotAvailable as err:
        print(f"error: {err}")
        return 1
    log.info("model %s loaded in %.1f s", engine.model_id, time.perf_counter() - started)
    app = create_naive_app(engine) if args.naive else create_app(engine)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
