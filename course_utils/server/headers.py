"""``x-request-id`` on every response: the client's own id when it sent one, else a new one.

Clients and proxies use it to match a response (and a server log line) with the request that
caused it: the openai client reports it in its errors (``_request_id``), vLLM and TGI send it.
An id the client sent is echoed only when it is short printable ASCII (no header injection).
"""

from __future__ import annotations

import re
import uuid

HEADER = b"x-request-id"
_SAFE = re.compile(rb"^[\x21-\x7e]{1,128}$")


class RequestId:
    """ASGI middleware: adds ``x-request-id`` to every HTTP response (see the module docstring)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = dict(scope.get("headers") or []).get(HEADER, b"")
        request_id = sent if _SAFE.match(sent) else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def with_id(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": headers + [(HEADER, request_id)]}
            await send(message)

        await self.app(scope, receive, with_id)
