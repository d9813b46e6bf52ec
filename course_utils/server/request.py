"""One admitted request, and the channel its events travel on from the worker thread to its reader."""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
import time

from .events import Event, Failed, Finished
from .sampling import SamplingParams


class Channel:
    """Events from the engine's worker thread to one reader.

    A reader on an event loop (a route) gets them through the loop (``call_soon_threadsafe``):
    no thread per stream. A blocking reader (``Engine.generate``, a notebook) gets them through
    a thread-safe queue.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self._async: asyncio.Queue | None = asyncio.Queue() if loop is not None else None
        self._sync: queue.SimpleQueue | None = queue.SimpleQueue() if loop is None else None

    def put(self, event: Event) -> bool:
        """Hand over ``event``; False when the reader's event loop has closed (nobody will read it)."""
        if self._sync is not None:
            self._sync.put(event)
            return True
        try:
            self.loop.call_soon_threadsafe(self._async.put_nowait, event)
        except RuntimeError:  # the loop is closed: the server stopped
            return False
        return True

    def get(self, timeout: float | None = None) -> Event:
        """Blocking read (raises ``queue.Empty`` after ``timeout`` seconds)."""
        if self._sync is None:
            raise RuntimeError("this request is read on its event loop: use `await channel.aget()`")
        return self._sync.get(timeout=timeout)

    async def aget(self, timeout: float | None = None) -> Event:
        """Read on the event loop (raises ``TimeoutError`` after ``timeout`` seconds)."""
        if self._async is None:
            raise RuntimeError("this request is read by a blocking reader: use `channel.get()`")
        return await asyncio.wait_for(self._async.get(), timeout)


@dataclasses.dataclass(eq=False)
class Request:
    """An admitted request: its prompt, its settings, and how to reach its reader."""

    prompt_ids: list[int]
    params: SamplingParams
    channel: Channel
    deadline: float | None = None
    enqueued: float = dataclasses.field(default_factory=time.monotonic)
    started: float | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: bool = False

    def expired(self, now: float | None = None) -> bool:
        return self.deadline is not None and (now or time.monotonic()) > self.deadline

    def finish(self, event: Finished | Failed) -> None:
        """The last event; the engine releases the request's slot right after."""
        self.done = True
        self.channel.put(event)
