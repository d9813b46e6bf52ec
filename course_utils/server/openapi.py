"""The ``responses`` of each route in the OpenAPI schema: its answer, and every error it may give.

Schemathesis (``tests/test_server_fuzzing.py``) checks every answer against this: a status code or
a body that the schema does not list fails the test, so the documentation cannot drift either.
"""

from __future__ import annotations

_WHY = {
    400: "A broken rule (OpenAI) or an unreadable body",
    401: "Missing or wrong API key (only with --api-key)",
    413: "Body too large",
    422: "Input validation error",
    429: "Model is overloaded",
    499: "The client went away (nobody reads this)",
    500: "Internal server error (details in the server log)",
    504: "Request timed out",
}

_SSE_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"}},
}


def documented(*codes: int, error, ok=None, stream: bool = False, stream_only: bool = False) -> dict:
    """``error``: the API's error model. ``stream``: the route may answer with server-sent events."""
    json_error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{error.__name__}"}}}
    responses = {code: {"model": error, "description": _WHY[code], "content": json_error} for code in codes}
    if stream_only:
        responses[200] = {
            "description": "Server-sent events",
            "content": {"text/event-stream": {"itemSchema": _SSE_EVENT}},
        }
    elif ok is not None:
        responses[200] = {"model": ok, "description": "The answer"}
        if stream:
            responses[200]["content"] = {"text/event-stream": {"itemSchema": _SSE_EVENT}}
            responses[200]["description"] = "The answer, or server-sent events when `stream` is true"
    return responses


GENERATION_ERRORS = (400, 401, 413, 422, 429, 499, 500, 504)
