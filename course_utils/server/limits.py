"""Limits on what a request may send: the body's size (413 before it is read)."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from .errors import error_body

MAX_BODY_BYTES = 1 << 20  # 1 MiB: some 250,000 tokens of text, far beyond the model's context


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
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope, send):
        from fastapi.responses import JSONResponse

        message = _TooLarge(self.max_bytes).detail
        await JSONResponse(error_body(scope.get("path", ""), message, "validation"), status_code=413)(
            scope, None, send)


class _TooLarge(HTTPException):
    """Raised while reading a body past the limit. An HTTPException, so that FastAPI passes it on
    (it turns other errors raised while reading a body into a 400) and the app answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the body is larger than the limit of {max_bytes} bytes")
