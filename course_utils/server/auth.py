"""An optional API key: ``Authorization: Bearer <key>`` on every route but ``/health``."""

from __future__ import annotations

import hmac

from fastapi import Request

from .errors import Unauthorized


async def authorized(request: Request) -> None:
    """A FastAPI dependency: the app's key (``app.state.api_key``), compared in constant time;
    nothing to check when the app has no key."""
    api_key = getattr(request.app.state, "api_key", None)
    if api_key is None:
        return
    header = request.headers.get("authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(token.encode(), api_key.encode()):
        raise Unauthorized()


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to tell the operator when the server is reachable from other machines without a key."""
    if api_key or host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"listening on {host} without an API key: anyone who can reach this address can use the "
            "model. Pass --api-key, or bind 127.0.0.1.")
