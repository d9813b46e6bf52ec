"""Server-sent events for routes that answer either JSON or a stream."""

from __future__ import annotations

from pydantic import BaseModel


async def encode(events):
    """``data: ...`` and a blank line per event (FastAPI's own formatter). Models and dicts go as
    compact JSON, strings as they are (``[DONE]``)."""
    import json

    from fastapi.sse import format_sse_event

    async for event in events:
        if isinstance(event, BaseModel):
            data = event.model_dump_json()
        elif isinstance(event, dict):
            data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        else:
            data = event
        yield format_sse_event(data_str=data)


def response(events):
    """A ``text/event-stream`` response of ``events`` (an async iterator)."""
    from fastapi.sse import EventSourceResponse

    return EventSourceResponse(encode(events), headers={"Cache-Control": "no-cache"})
