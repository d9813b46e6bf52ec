"""The engine's worker thread: admit, prefill, decode one step, let finished rows leave; repeat.

Each turn of the loop:

1. new requests move from the inbox (filled by ``Engine.submit`` on any thread) to the waiting line;
2. requests that were cancelled (their reader went away) or that passed their deadline leave,
   waiting or running; a timed-out one gets a ``Failed("timeout")`` event;
3. the policy (``policy.py``) says which waiting requests join now; they are prefilled together
   (what their prompts share with recent ones taken from the prefix cache, ``prefix.py``)
   and their first token is sampled at once (their time to first token), then they are merged
   into the running batch (``step.py``);
4. one decoding step for every running row; each row's token goes to its reader, and the rows
   that ended (end of sequence, stop string, token budget) leave the batch.

An exception in the model fails the requests it touched (``Failed("internal")``, logged with its
traceback) and the loop goes on. The worker is the only thread that touches the model.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from .events import Failed
from .policy import Waiting
from .prefix import PrefixCache
from .request import Request
from .sampling import Sampler
from .step import Batch, Row

log = logging.getLogger("course_utils.server")


class Worker:
    def __init__(self, model, tokenizer, policy, *, pad_id: int, eos_ids: set[int], release,
                 prefixes: PrefixCache | None = None, grammars=None, decode_step=None) -> None:
        self.model, self.tokenizer, self.policy, self.prefixes = model, tokenizer, policy, prefixes
        # ``decode.DecodeStep`` for the model (or ``compiled.CompiledStep``), or None: ``model(...)``
        self.decode_step = decode_step
        self.grammars = grammars  # structured output (``grammar.Grammars``)
        self.pad_id, self.eos_ids, self.release = pad_id, eos_ids, release
        self.special_ids = set(tokenizer.all_special_ids)
        self.sampler = Sampler()
        self.inbox: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self.waiting = Waiting()
        self.batch = Batch()
        self.on_step = None  # optional callback(rows in the batch), after each decoding step
        self.stopping = False
        self.ready = threading.Event()  # set once the worker decodes (after warm-up, if any)

    @property
    def queue_size(self) -> int:
        return self.inbox.qsize() + len(self.waiting)

    @property
    def running(self) -> int:
        return len(self.batch)

    def run(self) -> None:
        import torch

        warm_up = getattr(self.decode_step, "warm_up", None)
        try:
            if warm_up is not None:
                warm_up()  # here: the thread that decodes computes, and owns its OpenMP threads
        except Exception:  # a step that cannot compile decodes the plain way; the worker goes on
            log.exception("the decoding step's warm-up failed")
        finally:
            self.ready.set()
        with torch.inference_mode():
            while not self.stopping:
                self._pull_inbox()
                self._drop_gone()
                joining = self.policy.admit(
                    self.waiting, [row.request for row in self.batch.rows], time.monotonic()
                )
                if joining:
                    self._guarded(
                        self._join,
                        [
                            Row(r, self.tokenizer, self.model.device, self.eos_ids, self.special_ids,
                                self.grammars)
                            for r in joining
                        ],
                    )
                if self.batch.rows:
                    self._guarded(self._step, list(self.batch.rows))

    def _pull_inbox(self) -> None:
        """Move new requests to the waiting line; sleep here when there is nothing to do."""
        idle = not self.batch.rows
        timeout = self.policy.wake_in(self.waiting, [], time.monotonic()) if idle else 0
        block = idle and (not len(self.waiting) or timeout)
        try:
            request = self.inbox.get(timeout=min(timeout or 1.0, 1.0)) if block else self.inbox.get_nowait()
        except queue.Empty:
            return
        self.waiting.append(request)
        while True:
            try:
                self.waiting.append(self.inbox.get_nowait())
            except queue.Empty:
                return

    def _drop_gone(self) -> None:
        now = time.monotonic()
        for request in self.waiting.remove_if(lambda r: r.cancel.is_set() or r.expired(now)):
            self._end(request, Failed("timeout") if request.expired(now) else None)
        gone = [
            i
            for i, row in enumerate(self.batch.rows)
            if row.request.cancel.is_set() or row.request.expired(now)
        ]
        if gone:
            for i in gone:
                request = self.batch.rows[i].request
                self._end(request, Failed("timeout") if request.expired(now) else None)
            self.batch.keep([i for i in range(len(self.batch.rows)) if i not in set(gone)])

    def _join(self, rows: list[Row]) -> None:
        now = time.monotonic()
        for row in rows:
            row.request.started = now
        new, logits = Batch.prefill(self.model, rows, self.pad_id, self.prefixes)
        self._advance(new, logits)
        self.batch.merge(new)

    def _step(self, rows: list[Row]) -> None:
        logits = self.batch.decode(self.model, self.decode_step)
        self._advance(self.batch, logits)
        if self.on_step is not None:
            self.on_step(len(rows))

    def _advance(self, batch: Batch, logits) -> None:
        """Sample each row's next token, hand it over, and let the rows that ended leave."""
        choices = self.sampler.sample(logits, [row.state for row in batch.rows])
        batch.set_next(choices)
        now = time.monotonic()
        ended = {i for i, (row, choice) in enumerate(zip(batch.rows, choices)) if row.accept(choice, now)}
        for i in ended:
            self.release(batch.rows[i].request)
        if ended:
            batch.keep([i for i in range(len(batch.rows)) if i not in ended])

    def _guarded(self, action, rows: list[Row]) -> None:
        """Run ``action(rows)``; if it raises, those rows fail and the batch starts afresh."""
        try:
            action(rows)
        except Exception as err:  # noqa: BLE001 - the worker must outlive any request
            log.exception("generation failed for %d request(s)", len(rows))
            for row in {id(r): r for r in [*rows, *self.batch.rows]}.values():
                if not row.request.done:
                    self._end(row.request, Failed("internal", err))
            self.batch = Batch()

    def _end(self, request: Request, event: Failed | None) -> None:
        if event is not None:
            request.finish(event)
        else:
            request.done = True
        self.release(request)
