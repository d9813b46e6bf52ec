"""What both APIs' routes do with a generation: admit it, read it whole or stream it, count it.

``Generation`` is one admitted request seen from a route: ``await admit(...)`` validates it (off the
event loop: tokenizing takes time) and queues it, before any response starts, so that a bad
request or a full server gets its 4xx/429 as a status code. Then either ``await collect(...)``
reads the whole answer (and cancels the request if the client disconnects meanwhile), or
``async for event in stream(...)`` reads it as it comes (leaving the loop cancels it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from .errors import ClientGone, RequestTimedOut, ValidationFailed, log
from .events import Finished, Token
from .sampling import SamplingParams

DISCONNECT_POLL_S = 0.5


@dataclasses.dataclass
class Generation:
    request: object  # the engine's Request
    params: SamplingParams
    prompt_ids: list[int]
    started: float


@dataclasses.dataclass
class Answer:
    tokens: list[Token]
    finished: Finished


class Serving:
    """The engine and the metrics, as the routes use them."""

    def __init__(self, engine, metrics, model_name: str) -> None:
        self.engine, self.metrics, self.model_name = engine, metrics, model_name

    async def admit(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        truncate: int | None = None,
        renamed: dict[str, str] | None = None,
    ) -> Generation:
        """Validate and queue one request. ``renamed`` maps the engine's parameter names to the API's
        (``max_new_tokens`` is ``max_tokens`` on OpenAI's), for the error message."""
        self.metrics.count.inc()
        started = time.monotonic()
        try:
            params, prompt_ids = await run_in_threadpool(self.engine.check, prompt, params, truncate=truncate)
        except ValidationFailed as err:
            raise _renamed(err, renamed or {}) from None
        request = self.engine.submit(prompt_ids, params, loop=asyncio.get_running_loop())
        return Generation(request, params, prompt_ids, started)

    async def admit_many(self, prompt: str, params: SamplingParams, n: int, **options) -> list[Generation]:
        """``n`` answers to one prompt (OpenAI's ``n``): seeds ``seed``, ``seed + 1``... when given."""
        generations = []
        try:
            for i in range(n):
                seed = None if params.seed is None else (params.seed + i) % (1 << 64)
                generations.append(
                    await self.admit(prompt, dataclasses.replace(params, seed=seed), **options)
                )
        except BaseException:
            for generation in generations:  # all or nothing: a 429 on the third frees the first two
                generation.request.cancel.set()
            raise
        return generations

    async def stream(self, generation: Generation):
        """The events of one generation as they come; the metrics see its first token and its end."""
        first = True
        async for event in self.engine.stream(generation.request):
            if first:
                self.metrics.first(generation.started)
                first = False
            if isinstance(event, Finished):
                self.metrics.finished(event, generation.started)
            yield event

    def stream_failed(self, err: Exception) -> None:
        """Count (and log, unless it is a timeout) an error that ended a stream after its 200."""
        if isinstance(err, RequestTimedOut):
            self.metrics.failed("timeout")
        else:
            self.metrics.failed("generation")
            log.error("error while streaming", exc_info=err)

    async def collect(self, http: Request, generation: Generation) -> Answer:
        """The whole answer; a client that disconnects meanwhile cancels the generation."""

        async def read() -> Answer:
            tokens = []
            async for event in self.stream(generation):
                if isinstance(event, Token):
                    tokens.append(event)
                else:
                    return Answer(tokens, event)
            raise RuntimeError("the events ended without a Finished event")

        task = asyncio.ensure_future(read())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
                if not task.done() and await http.is_disconnected():
                    raise ClientGone()
            return task.result()
        finally:
            if not task.done():
                task.cancel()
            generation.request.cancel.set()


def _renamed(err: ValidationFailed, names: dict[str, str]) -> ValidationFailed:
    message, param = str(err), err.param
    for ours, theirs in names.items():
        message = message.replace(f"`{ours}`", f"`{theirs}`")
        param = theirs if param == ours else param
    return ValidationFailed(message, param)
