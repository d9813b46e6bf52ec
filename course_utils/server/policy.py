"""The batching policy: which waiting requests join the running batch, and when. No model here.

The engine's worker asks ``policy.admit(waiting, running, now)`` before every decoding step and
prefills what it returns. Two policies:

- ``StepPolicy`` (step-level, or continuous, batching): waiting requests join the running batch
  at the next step, oldest first, while the batch has room (``max_batch_size`` rows, a budget of
  prompt tokens to prefill per step, a budget of tokens in the batch). A row leaves as soon as
  it ends, which makes room at once.
- ``StaticPolicy`` (dynamic batching, the engine's behaviour before step-level batching): a batch
  starts when it is full or when its oldest request has waited ``max_wait`` seconds, and nobody
  joins until every row of it has ended.

Requests batch together only when their settings that the sampler cannot vary per row are equal
(``compatibility_key``, derived from the fields of the parameters, not a hand-written list).

Modelled on TGI's ``router/src/infer/v3/queue.rs`` (``State::next_batch``: FIFO, a prefill token
budget and a batch token budget), and tested like it, without a model (``tests/test_server_policy.py``).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol


class Entry(Protocol):
    """What the policy reads from a request."""

    prompt_ids: list[int]
    params: object  # a dataclass with max_new_tokens
    enqueued: float


def compatibility_key(params, per_row: frozenset[str]) -> tuple:
    """Requests with equal keys may share a batch: every field of ``params`` (a dataclass) that the
    sampler does not apply per row, by value. A new field is therefore kept apart by default."""
    return tuple((f.name, _hashable(getattr(params, f.name))) for f in dataclasses.fields(params)
                 if f.name not in per_row)


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value


def tokens_needed(entry: Entry) -> int:
    """The most tokens a request can hold in the KV cache: its prompt and every token it may generate."""
    return len(entry.prompt_ids) + entry.params.max_new_tokens


class Waiting:
    """The requests waiting to join, oldest first."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: deque[Entry] = deque(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries)

    def append(self, entry: Entry) -> None:
        self._entries.append(entry)

    def remove_if(self, predicate) -> list[Entry]:
        """Take out (and return) the entries for which ``predicate(entry)`` is true: cancelled, expired."""
        gone = [e for e in self._entries if predicate(e)]
        if gone:
            self._entries = deque(e for e in self._entries if not predicate(e))
        return gone

    def take(self, chosen: list[Entry]) -> list[Entry]:
        ids = {id(e) for e in chosen}
        self._entries = deque(e for e in self._entries if id(e) not in ids)
        return chosen


@dataclasses.dataclass
class StepPolicy:
    """Join at the next step, oldest first, within the batch's room and budgets."""

    max_batch_size: int = 16
    max_prefill_tokens: int = 2048  # prompt tokens prefilled between two decoding steps
    max_batch_tokens: int = 65536  # prompt + max_new_tokens over the batch's rows
    per_row: frozenset[str] = frozenset()

    def admit(self, waiting: Waiting, running: Sequence[Entry], now: float) -> list[Entry]:
        room = self.max_batch_size - len(running)
        if room <= 0 or not len(waiting):
            return []
        budget = self.max_batch_tokens - sum(tokens_needed(e) for e in running)
        key = compatibility_key(running[0].params, self.per_row) if running else None
        chosen: list[Entry] = []
        widest = 0
        for entry in waiting:
            if len(chosen) == room:
                break
            entry_key = compatibility_key(entry.params, self.per_row)
            key = entry_key if key is None else key
            if entry_key != key:
                continue  # it waits for a batch of its own kind
            width = max(widest, len(entry.prompt_ids))
            fits = width * (len(chosen) + 1) <= self.max_prefill_tokens and tokens_needed(entry) <= budget
            if not fits and (chosen or running):
                break  # oldest first: nobody overtakes a request that does not fit yet
            chosen.append(entry)  # (a request alone in an empty batch always starts)
            widest, budget = width, budget - tokens_needed(entry)
        return waiting.take(chosen)

    def wake_in(self, waiting: Waiting, running: Sequence[Entry], now: float) -> float | None:
        """Seconds until ``admit`` may say yes without a new arrival (None: only on a new arrival)."""
        return None


@dataclasses.dataclass
class StaticPolicy:
    """Start a batch when it is full or its oldest request has waited ``max_wait`` s; no joining."""

    max_batch_size: int = 16
    max_wait: float = 0.05
    per_row: frozenset[str] = frozenset()

    def admit(self, waiting: Waiting, running: Sequence[Entry], now: float) -> list[Entry]:
        if running or not len(waiting):
            return []
        first = next(iter(waiting))
        key = compatibility_key(first.params, self.per_row)
        same = [e for e in waiting if compatibility_key(e.params, self.per_row) == key]
        if len(same) < self.max_batch_size and now < first.enqueued + self.max_wait:
            return []  # wait for the batch to fill
        return waiting.take(same[:self.max_batch_size])

    def wake_in(self, waiting: Waiting, running: Sequence[Entry], now: float) -> float | None:
        if running or not len(waiting):
            return None
        return max(0.0, next(iter(waiting)).enqueued + self.max_wait - now)
