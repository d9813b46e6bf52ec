"""The reference server's app: the routes of both APIs, wired to one engine (lessons 03-05).

``create_app(engine)`` only wires; each concern lives in its own module:

| concern | module |
|---|---|
| OpenAI's API: request and response models / routes | ``openai/protocol.py`` / ``openai/routes.py`` |
| OpenAI's legacy completions; vLLM's /tokenize, /detokenize | ``openai/completions.py``, ``tokenize.py`` |
| TGI's API: request and response models / routes | ``tgi/protocol.py`` / ``tgi/routes.py`` |
| admitting, collecting and streaming a generation | ``serving.py`` |
| errors in each API's shape, the last-resort 500 | ``errors.py`` |
| body-size limit (413); ``x-request-id`` on every response | ``limits.py``; ``headers.py`` |
| structured output: grammars, the mask of allowed tokens; tool calls | ``grammar.py``; ``tools.py`` |
| API key | ``auth.py`` |
| Prometheus metrics | ``metrics.py`` |
| the model, admission (429), the worker thread | ``engine.py``, ``worker.py`` |
| which waiting requests join the batch | ``policy.py`` |
| the running batch and its KV cache | ``step.py`` |
| each row's next token (sampling, penalties, logprobs) | ``sampling.py`` |
| text and stop strings | ``text.py`` |
| the tutorial server (``--naive``) | ``naive.py`` |
| ``BackgroundServer``, the command line | ``background.py``, ``cli.py`` |
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from .. import __version__
from . import errors
from .headers import RequestId
from .limits import MAX_BODY_BYTES, BodyLimit
from .metrics import Metrics
from .openai.completions import router as completions_router
from .openai.routes import router as openai_router
from .openai.tokenize import router as tokenize_router
from .serving import Serving
from .tgi.routes import router as tgi_router


def create_app(
    engine,
    *,
    api_key: str | None = None,
    served_model_name: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    cors_origins: list[str] | None = None,
) -> FastAPI:
    """The reference server around ``engine`` (a ``course_utils.server.Engine``).

    ``api_key``: every route but /health needs ``Authorization: Bearer <key>``.
    ``served_model_name``: the name /v1/models and /info give (default: the model folder's name).
    ``max_body_bytes``: larger bodies get 413 before they are read.
    ``cors_origins``: browser origins allowed to call the server (none by default: CORS off).
    """
    app = FastAPI(title="LLM inference course: reference server", version=__version__)
    metrics = Metrics(engine)
    model_name = served_model_name or Path(str(engine.model_id)).name
    app.state.engine, app.state.metrics = engine, metrics
    app.state.serving = Serving(engine, metrics, model_name)
    app.state.api_key, app.state.max_body_bytes = api_key, max_body_bytes
    errors.install(app, metrics.failed)
    app.include_router(tgi_router)
    app.include_router(openai_router)
    app.include_router(completions_router)
    app.include_router(tokenize_router)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(errors.CatchAll, on_error=lambda: metrics.failed("generation"))
    app.add_middleware(RequestId)  # outermost: every response carries x-request-id, a 500's too
    return app
