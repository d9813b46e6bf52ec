"""What the engine hands back for a request, one small dataclass per kind of event.

A request's events are zero or more ``Token``, then exactly one ``Finished`` or ``Failed``.
The routes turn them into each API's shapes (``openai/``, ``tgi/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["length", "eos_token", "stop_sequence"]


@dataclass(frozen=True, slots=True)
class TopToken:
    """One of the most likely tokens at a step, with its log-probability."""

    id: int
    text: str
    logprob: float


@dataclass(frozen=True, slots=True)
class Token:
    """A generated token.

    ``text`` is what this token adds to the answer ("" for a special token, or for the first bytes
    of a character that the next token completes); ``logprob`` is the model's log-probability of
    it (before temperature and top-k/top-p); ``top`` the most likely alternatives when asked for.
    """

    id: int
    text: str
    logprob: float
    special: bool
    top: tuple[TopToken, ...] = ()


@dataclass(frozen=True, slots=True)
class Finished:
    """The request ended normally.

    ``text`` is the whole answer; when ``reason`` is ``"stop_sequence"`` it ends with ``stop``
    (TGI's convention; the OpenAI routes cut it off). ``cached_tokens``: how many of the prompt's
    tokens came from the prefix cache instead of being computed.
    """

    reason: FinishReason
    text: str
    token_ids: tuple[int, ...]
    prompt_tokens: int
    queue_time: float
    inference_time: float
    seed: int | None = None
    stop: str | None = None
    cached_tokens: int = 0

    @property
    def generated_tokens(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True, slots=True)
class Failed:
    """The request ended with an error: ``kind`` is ``"timeout"`` or ``"internal"``.

    ``error`` is for the server log only; clients get a generic message.
    """

    kind: Literal["timeout", "internal"]
    error: BaseException | None = None


Event = Token | Finished | Failed
