"""Recording stand-ins for servers, for exercise checks and tests (no model, answers at once).

``FakeReplica`` is an OpenAI-compatible server (as vLLM, TGI or the course's server would be) that
keeps every request it receives and answers the way a check tells it to: slowly, with a 429 or a
500, unhealthy, streaming in pieces with pauses between them, or refusing a model name it does not
serve (vLLM does: "The model `x` does not exist", 404). A check can then assert on what a
learner's client or router *sent*, not only on what came back::

    with FakeReplica("a") as a, FakeReplica("b", status=429) as b:
        ...  # send through the learner's code
        assert len(a.received) == 1 and len(b.received) == 1

Written here rather than taken from a library: mocking libraries (respx, pytest-httpserver) stub
one client or run outside the event loop a notebook uses; these checks need a real server on a
port, reached by any client the learner picks, and started from a notebook's kernel.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    """One request as the replica saw it."""

    path: str
    body: bytes
    headers: dict
    at: float  # time.monotonic() when it arrived

    @property
    def json(self) -> dict:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class FakeReplica:
    """See the module docstring. ``reply``: the text every completion answers (default
    ``"reply from NAME"``); ``pieces``: how many stream chunks it is cut into; ``stream_gap``:
    seconds between them; ``delay``: seconds before answering; ``status``: the status of every
    generation request (200, or e.g. 429, 500); ``healthy``: whether ``/health`` says 200 (else
    503); ``model``: the name it serves; ``strict_model``: refuse another name with 404."""

    name: str = "replica"
    reply: str | None = None
    pieces: int = 3
    stream_gap: float = 0.0
    delay: float = 0.0
    status: int = 200
    healthy: bool = True
    model: str = "course"
    strict_model: bool = False
    received: list[Received] = field(default_factory=list)
    health_checks: int = 0

    def __post_init__(self) -> None:
        self.reply = self.reply if self.reply is not None else f"reply from {self.name}"
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0  # the most generation requests it was serving at the same time
        self.server = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeReplica:
        from .server import BackgroundServer

        self.server = BackgroundServer(self.app())
        return self

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5)

    def __enter__(self) -> FakeReplica:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def generations(self) -> list[Received]:
        """The requests for a completion (not health checks, not ``/v1/models``)."""
        return [r for r in self.received if r.path.endswith("/completions")]

    # ------------------------------------------------------------------ the app
    def app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
        from starlette.routing import Route

        def note(request, body=b""):
            seen = Received(request.url.path, body, dict(request.headers), time.monotonic())
            with self._lock:
                self.received.append(seen)
            return seen

        async def health(request):
            self.health_checks += 1
            note(request)
            return PlainTextResponse("", status_code=200 if self.healthy else 503)

        async def models(request):
            note(request)
            return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model",
                                                             "owned_by": self.name}]})

        async def metrics(request):
            return PlainTextResponse(f"vllm:num_requests_running {self._running}\n")

        async def generate(request):
            seen = note(request, await request.body())
            with self._lock:
                self._running += 1
                self.most_at_once = max(self.most_at_once, self._running)
            try:
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.status != 200:
                    kind = {429: "Model is overloaded", 500: "internal error"}.get(self.status, "error")
                    return JSONResponse({"error": {"message": f"{self.name}: {kind}", "type": kind,
                                                   "code": self.status}}, status_code=self.status)
                asked = seen.json.get("model")
                if self.strict_model and asked != self.model:
                    return JSONResponse({"error": {"message": f"The model `{asked}` does not exist.",
                                                   "type": "NotFoundError", "code": 404}}, status_code=404)
                chat = request.url.path.endswith("/chat/completions")
                if seen.json.get("stream"):
                    return StreamingResponse(self._events(chat), media_type="text/event-stream")
                return JSONResponse(self._completion(chat))
            finally:
                with self._lock:
                    self._running -= 1

        return Starlette(routes=[
            Route("/health", health), Route("/v1/models", models), Route("/metrics", metrics),
            Route("/v1/chat/completions", generate, methods=["POST"]),
            Route("/v1/completions", generate, methods=["POST"]),
        ])

    def _cut(self) -> list[str]:
        size = max(1, -(-len(self.reply) // self.pieces))
        return [self.reply[i:i + size] for i in range(0, len(self.reply), size)]

    def _completion(self, chat: bool) -> dict:
        usage = {"prompt_tokens": 9, "completion_tokens": len(self._cut()),
                 "total_tokens": 9 + len(self._cut())}
        if chat:
            choice = {"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": self.reply}}
            return {"id": f"chatcmpl-{self.name}", "object": "chat.completion", "created": 0,
                    "model": self.model, "choices": [choice], "usage": usage}
        choice = {"index": 0, "finish_reason": "stop", "text": self.reply}
        return {"id": f"cmpl-{self.name}", "object": "text_completion", "created": 0,
                "model": self.model, "choices": [choice], "usage": usage}

    async def _events(self, chat: bool):
        for number, piece in enumerate(self._cut()):
            if number and self.stream_gap:
                await asyncio.sleep(self.stream_gap)
            if chat:
                delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
                choice = {"index": 0, "delta": delta, "finish_reason": None}
                kind = "chat.completion.chunk"
            else:
                choice = {"index": 0, "text": piece, "finish_reason": None}
                kind = "text_completion"
            chunk = {"id": f"cmpl-{self.name}", "object": kind, "created": 0, "model": self.model,
                     "choices": [choice]}
            yield f"data: {json.dumps(chunk)}\n\n"
        last = {"index": 0, "delta": {}, "finish_reason": "stop"} if chat else {
            "index": 0, "text": "", "finish_reason": "stop"}
        yield f"data: {json.dumps({'id': f'cmpl-{self.name}', 'object': 'x', 'choices': [last]})}\n\n"
        yield "data: [DONE]\n\n"


def closed_url() -> str:
    """The address of a port nothing listens on: a replica that is down."""
    from .server import free_port

    return f"http://127.0.0.1:{free_port()}"
