"""Errors: what can go wrong with a request, and how each API says so.

- On ``/v1/*`` (OpenAI): ``{"error": {"message", "type", "param", "code"}}``; a request that breaks
  a rule is a 400 ``invalid_request_error`` naming the field in ``param``.
- Elsewhere (TGI): ``{"error": "...", "error_type": "..."}``; a broken rule is a 422 ``validation``.

``install(app, on_failure)`` registers the handlers; ``CatchAll`` is the last resort: an
unexpected error is logged with its traceback and answered with a JSON 500 that leaks nothing,
and the connection stays open (Starlette's own last resort re-raises, and uvicorn then closes
the client's keep-alive connection).
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("course_utils.server")

OVERLOADED = "Model is overloaded"
RETRY_AFTER_S = 1  # the Retry-After of a 429: the batch moves on within a second or so
INTERNAL = "Internal server error; the server log has the details."


class ValidationFailed(Exception):
    """A request that breaks a rule: 400 (OpenAI) or 422 (TGI), naming ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class Overloaded(Exception):
    """The server holds as many requests as it may: 429 "Model is overloaded", at once."""


class RequestTimedOut(Exception):
    """A request ran past the server's request timeout; its generation was stopped (504)."""


class GenerationFailed(Exception):
    """The model failed on a request (500); the server log has the traceback."""


class ClientGone(Exception):
    """The client disconnected before its answer was ready; its generation was cancelled."""


class Unauthorized(Exception):
    """No API key, or a wrong one (401)."""


def is_openai(path: str) -> bool:
    return path.startswith("/v1/")


def error_body(path: str, message: str, error_type: str, param: str | None = None) -> dict:
    """The error in the shape of the API that ``path`` belongs to."""
    if is_openai(path):
        return {"error": {"message": message, "type": error_type, "param": param, "code": None}}
    return {"error": message, "error_type": error_type}


def invalid(path: str, message: str, param: str | None = None) -> tuple[int, dict]:
    """A broken rule: OpenAI answers 400 ``invalid_request_error``, TGI 422 ``validation``."""
    if is_openai(path):
        return 400, error_body(path, message, "invalid_request_error", param)
    return 422, error_body(path, message, "validation")


def stream_error(path: str, err: BaseException) -> dict:
    """The last event of a stream that failed after it started (its status was already 200)."""
    if isinstance(err, RequestTimedOut):
        return error_body(path, f"Request timed out: {err}", "timeout")
    return error_body(path, INTERNAL, "generation")


def install(app, on_failure) -> None:
    """Answer every error in the API's shape; ``on_failure(kind)`` counts it (metrics)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    def answer(request, status: int, body: dict, headers: dict | None = None):
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, exc: RequestValidationError):
        on_failure("validation")
        message, param = describe_validation_error(exc.errors())
        return answer(request, *invalid(request.url.path, f"Input validation error: {message}", param))

    @app.exception_handler(ValidationFailed)
    async def rule_broken(request, exc: ValidationFailed):
        on_failure("validation")
        return answer(request, *invalid(request.url.path, f"Input validation error: {exc}", exc.param))

    @app.exception_handler(Overloaded)
    async def overloaded(request, exc: Overloaded):
        on_failure("overloaded")
        # Retry-After: how long a client should wait (RFC 9110); the openai client honours it
        return answer(request, 429, error_body(request.url.path, OVERLOADED, "overloaded"),
                      {"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(RequestTimedOut)
    async def timed_out(request, exc: RequestTimedOut):
        on_failure("timeout")
        message = f"Request timed out: {exc}. Ask for fewer tokens, or retry later."
        return answer(request, 504, error_body(request.url.path, message, "timeout"))

    @app.exception_handler(GenerationFailed)
    async def failed(request, exc: GenerationFailed):
        on_failure("generation")
        return answer(request, 500, error_body(request.url.path, INTERNAL, "generation"))

    @app.exception_handler(ClientGone)
    async def gone(request, exc: ClientGone):
        on_failure("cancelled")
        from fastapi.responses import Response

        return Response(status_code=499)  # nginx's "client closed request": nobody reads it

    @app.exception_handler(Unauthorized)
    async def unauthorized(request, exc: Unauthorized):
        message = "Missing or wrong API key: send `Authorization: Bearer <key>`."
        kind = "invalid_request_error" if is_openai(request.url.path) else "authentication"
        return answer(
            request, 401, error_body(request.url.path, message, kind), {"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        # Starlette's own 4xx (unknown route, wrong method, a body it cannot read), in our shapes.
        kinds = {400: "invalid_request_error", 404: "not_found", 405: "method_not_allowed", 413: "validation"}
        messages = {
            400: "the body could not be read (too deeply nested?)",
            404: f"Not found: {request.method} {request.url.path}. This server serves: {served_routes(app)}",
            405: f"Method not allowed: {request.method} {request.url.path}",
            413: exc.detail,
        }
        body = error_body(
            request.url.path,
            messages.get(exc.status_code, "Request error"),
            kinds.get(exc.status_code, "error"),
        )
        return answer(request, exc.status_code, body, exc.headers if exc.status_code == 405 else None)


def served_routes(app) -> str:
    """``GET /health, POST /generate, ...``: what a client that asked for something else can use
    (from the app's OpenAPI schema, which lists every documented route)."""
    try:
        paths = app.openapi().get("paths", {})
    except Exception:  # noqa: BLE001 - a listing is a courtesy, not worth a 500
        return "see /docs"
    routes = [f"{'/'.join(sorted(m.upper() for m in methods))} {path}" for path, methods in paths.items()]
    return ", ".join(sorted(routes, key=lambda r: r.split(" ", 1)[1])) or "see /docs"


def describe_validation_error(errors: list[dict]) -> tuple[str, str | None]:
    """pydantic's first error as a sentence that names the field and what it allows; and the field."""
    if not errors:
        return "the body is invalid", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON", None
    # pydantic puts union members ("str", "list[TextPart]") in the location: they are not fields
    loc = [
        str(p)
        for p in first.get("loc", ())
        if p != "body" and (isinstance(p, int) or (str(p).isidentifier() and str(p) not in _TYPE_NAMES))
    ]
    where = ".".join(loc) or "body"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    kind, ctx = first.get("type", ""), first.get("ctx") or {}
    if kind in bounds and ctx:
        return (
            f"`{where}` must be {bounds[kind]} {next(iter(ctx.values()))}, got {first.get('input')!r}",
            where,
        )
    if kind == "extra_forbidden":
        return f"unknown field `{where}` (a typo? this API has no such field)", where
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if not loc:  # a rule across fields (a model validator): its message names the field first
        named = re.match(r"`([A-Za-z_][\w.]*)`", message)
        return message, named.group(1) if named else None
    return f"`{where}`: {message}", where


_TYPE_NAMES = {"str", "int", "float", "bool", "list", "dict", "none"}


class CatchAll:
    """ASGI middleware: an unexpected error is logged and answered with a JSON 500; not re-raised,
    so the connection stays usable (see the module docstring)."""

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
        except Exception:  # noqa: BLE001 - the point of a last resort
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if self.on_error is not None:
                self.on_error()
            if started:  # too late for a status: end the body cleanly
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            from fastapi.responses import JSONResponse

            body = error_body(scope.get("path", ""), INTERNAL, "generation")
            await JSONResponse(body, status_code=500)(scope, receive, send)
