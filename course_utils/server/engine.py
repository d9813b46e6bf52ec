"""The model side of the reference server: a request queue and dynamic batching (lesson 04).

Requests go into one queue. One worker thread takes the oldest request, waits up to ``max_wait_ms``
for more that can share its batch, and generates for up to ``max_batch_size`` of them with a
single left-padded ``generate()`` call. Each request's tokens go back through its own queue as
they are produced, so streaming and cancelling work per request inside a batch. With
``max_batch_size=1`` this is lesson 03's server: one generation at a time.

Why not transformers' own continuous batching (``model.init_continuous_batching()``, which
``transformers serve --continuous-batching`` uses)? In transformers 5.23 its manager takes one
``GenerationConfig`` for every request: greedy versus sampling, seeds, repetition penalty and stop
strings cannot differ per request (``transformers serve`` uses the first request's settings for
all; see ``CBGenerateManager`` in ``transformers/cli/serving/utils.py``). A server whose clients
send their own parameters needs them per request, so this module batches requests whose
parameters agree, which ``generate()`` supports as it is. What it gives up: a request that arrives
while a batch runs waits for that batch to end (continuous batching would let it join at the next
step), and the KV cache is not paged. Lesson 04 measures both against ``transformers serve``.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator

from .. import __version__
from ..generation import (
    MAX_STOP_SEQUENCES,
    GenerationParams,
    InvalidGenerationParams,
    generate_kwargs,
    validate,
)

DEFAULT_MAX_NEW_TOKENS = 64
MAX_NEW_TOKENS_LIMIT = 512
_END = object()


class Overloaded(Exception):
    """The queue is full: answered at once with 429 "Model is overloaded"."""


class ValidationFailed(Exception):
    """A request that breaks a rule; answered with a 422 (TGI) or 400 (OpenAI) naming ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class RequestTimedOut(Exception):
    """A request ran past the server's request timeout; its generation was stopped."""


@dataclasses.dataclass(eq=False)
class Job:
    """One request: its prompt, its parameters, and the queue its new tokens arrive on."""

    prompt_ids: list[int]
    params: GenerationParams
    deadline: float | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    tokens: queue.Queue = dataclasses.field(default_factory=queue.Queue)
    enqueued: float = dataclasses.field(default_factory=time.monotonic)
    started: float | None = None
    timed_out: bool = False

    def batch_key(self) -> tuple:
        """Requests with equal keys can share one generate() call."""
        p = self.params
        if p.seed is not None:
            return ("seeded", id(self))  # reproducible: alone, right after set_seed
        if not p.sampling():
            return ("greedy", p.repetition_penalty)
        return ("sample", p.temperature, p.top_k, p.top_p, p.repetition_penalty)

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


class _RowStops:
    """A stopping criterion with one answer per row: its token budget, cancel, or timeout."""

    def __init__(self, jobs: list[Job], prompt_length: int) -> None:
        self.jobs, self.prompt_length = jobs, prompt_length
        self.done = [False] * len(jobs)
        self.halted = [False] * len(jobs)  # cancelled or timed out: hand over no more tokens

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        generated = input_ids.shape[1] - self.prompt_length
        for i, job in enumerate(self.jobs):
            if self.done[i]:
                continue
            if job.expired():
                job.timed_out = True
            self.halted[i] = job.cancel.is_set() or job.timed_out
            self.done[i] = self.halted[i] or generated >= job.params.max_new_tokens
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


class _RowStreamer:
    """generate()'s streamer for a batch: hands row i's new token to job i, until that row ends."""

    def __init__(self, jobs: list[Job], stops: _RowStops, eos_ids: set[int]) -> None:
        self.jobs, self.stops, self.eos_ids = jobs, stops, eos_ids
        self._prompt_seen = False
        self._ended = [False] * len(jobs)
        self._count = [0] * len(jobs)

    def put(self, value) -> None:
        if not self._prompt_seen:  # the first call passes the prompt
            self._prompt_seen = True
            return
        for i, token_id in enumerate(value.reshape(len(self.jobs), -1)[:, -1].tolist()):
            job = self.jobs[i]
            if self._ended[i] or self.stops.halted[i] or self._count[i] >= job.params.max_new_tokens:
                continue  # a finished row: generate() pads it until the whole batch ends
            self._count[i] += 1
            job.tokens.put(token_id)
            if token_id in self.eos_ids:
                self._ended[i] = True

    def end(self) -> None:
        pass  # the worker ends every job itself, also when generate() fails


class Engine:
    """The model, the tokenizer, the queue and the worker thread that batches requests.

    ``max_batch_size``: most requests in one generate() call (1: no batching).
    ``max_wait_ms``: how long the worker waits for a batch to fill before it starts.
    ``max_concurrent_requests``: requests admitted (queued or running); more get ``Overloaded``.
    ``request_timeout``: seconds a request may take, waiting included; ``None``: no limit.
    """

    def __init__(self, model: str | None = None, *, dtype=None, device: str | None = None,
                 max_new_tokens_limit: int = MAX_NEW_TOKENS_LIMIT,
                 max_total_tokens: int | None = None, max_batch_size: int = 1,
                 max_wait_ms: float = 50.0, max_concurrent_requests: int = 64,
                 request_timeout: float | None = 120.0) -> None:
        from ..device import pick_device, pick_dtype
        from ..models import load_model, load_tokenizer, resolve_model

        if max_batch_size < 1 or max_concurrent_requests < 1:
            raise ValueError("max_batch_size and max_concurrent_requests must be at least 1")
        self.model_id = model or resolve_model().path
        self.device = device or pick_device()
        self.dtype = dtype or pick_dtype(self.device)
        self.tokenizer = load_tokenizer(self.model_id)
        self.model = load_model(self.model_id, dtype=self.dtype).to(self.device).eval()
        context = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_total_tokens = min(max_total_tokens or context, context)
        self.max_new_tokens_limit = max_new_tokens_limit
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_concurrent_requests = max_concurrent_requests
        self.request_timeout = request_timeout
        self._special_ids = set(self.tokenizer.all_special_ids)
        eos = self.model.generation_config.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        self._pad_id = self.tokenizer.pad_token_id
        if self._pad_id is None:
            self._pad_id = self.tokenizer.eos_token_id
        self._queue: queue.Queue = queue.Queue()
        self._deferred: deque[Job] = deque()  # taken out of the queue, but could not join a batch
        self._admitted = 0
        self._admit_lock = threading.Lock()
        self.running_batch_size = 0
        self.on_batch = None  # optional callback(batch size), called as each batch starts
        self.created = time.time()
        self._worker = threading.Thread(target=self._work, daemon=True, name="engine-worker")
        self._worker.start()

    # ------------------------------------------------------------ admission
    @property
    def alive(self) -> bool:
        """Whether the worker thread runs (it only stops if the interpreter is shutting down)."""
        return self._worker.is_alive()

    @property
    def queue_size(self) -> int:
        """Requests admitted and not yet started."""
        return self._queue.qsize() + len(self._deferred)

    @property
    def admitted(self) -> int:
        return self._admitted

    def check(self, prompt: str, params: GenerationParams) -> tuple[GenerationParams, list[int]]:
        """Validate against every rule; return the parameters and the prompt's token ids."""
        if not prompt.strip():
            raise ValidationFailed("`inputs` must not be empty", "inputs")
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        if params.max_new_tokens is None:  # not given: the default, within this server's limit
            params = dataclasses.replace(params, max_new_tokens=min(DEFAULT_MAX_NEW_TOKENS,
                                                                    self.max_new_tokens_limit))
        try:
            params = validate(params, max_new_tokens_limit=self.max_new_tokens_limit,
                              prompt_tokens=len(prompt_ids), max_total_tokens=self.max_total_tokens)
        except InvalidGenerationParams as err:
            raise ValidationFailed(str(err), err.param) from None
        return params, prompt_ids

    def submit(self, prompt_ids: list[int], params: GenerationParams) -> Job:
        """Queue a request, or raise ``Overloaded`` at once when the server is full."""
        with self._admit_lock:
            if self._admitted >= self.max_concurrent_requests:
                raise Overloaded("Model is overloaded")
            self._admitted += 1
        deadline = None if self.request_timeout is None else time.monotonic() + self.request_timeout
        job = Job(prompt_ids, params, deadline)
        self._queue.put(job)
        return job

    def _release(self, job: Job) -> None:  # called by the worker when it is done with the job
        with self._admit_lock:
            self._admitted -= 1

    # ------------------------------------------------------------ the worker
    def _next_job(self, timeout: float | None) -> Job | None:
        if self._deferred:
            return self._deferred.popleft()
        try:
            return self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else \
                self._queue.get_nowait()
        except queue.Empty:
            return None

    def _collect_batch(self) -> list[Job]:
        first = self._next_job(None)
        batch, key = [first], first.batch_key()
        skipped: list[Job] = []
        wait_until = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch_size and key[0] != "seeded":
            job = self._next_job(wait_until - time.monotonic())
            if job is None:
                break
            (batch if job.batch_key() == key else skipped).append(job)
        self._deferred.extendleft(reversed(skipped))  # they go first next time, in order
        return batch

    def _work(self) -> None:
        while True:
            batch = self._collect_batch()
            live = []
            for job in batch:
                if job.cancel.is_set() or job.expired():
                    job.timed_out = job.expired()
                    job.tokens.put(_END)
                    self._release(job)
                else:
                    live.append(job)
            if not live:
                continue
            self.running_batch_size = len(live)
            if self.on_batch is not None:
                self.on_batch(len(live))
            try:
                self._generate(live)
            except Exception as err:  # every job in the batch gets the error; the worker lives on
                for job in live:
                    job.tokens.put(err)
            finally:
                self.running_batch_size = 0
                for job in live:
                    job.tokens.put(_END)
                    self._release(job)

    def _generate(self, jobs: list[Job]) -> None:
        import torch
        from transformers import StoppingCriteriaList, set_seed

        width = max(len(job.prompt_ids) for job in jobs)
        ids = torch.full((len(jobs), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for row, job in enumerate(jobs):  # left padding: every prompt ends at the same column
            ids[row, width - len(job.prompt_ids):] = torch.tensor(job.prompt_ids)
            mask[row, width - len(job.prompt_ids):] = 1
            job.started = time.monotonic()
        params = dataclasses.replace(jobs[0].params, stop=[],  # stop strings: per job, in _stream
                                     max_new_tokens=max(job.params.max_new_tokens for job in jobs))
        stops = _RowStops(jobs, width)
        kwargs = generate_kwargs(params, max_new_tokens_limit=max(params.max_new_tokens, 1))
        kwargs["stopping_criteria"] = StoppingCriteriaList([stops])
        if params.seed is not None:
            set_seed(params.seed)
        with torch.inference_mode():
            self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                streamer=_RowStreamer(jobs, stops, self._eos_ids),
                                pad_token_id=self._pad_id, **kwargs)

    # ------------------------------------------------------------ reading a job's tokens
    def events(self, job: Job) -> Iterator[dict]:
        """Blocking: one dict per new token (id, text piece, special), then a summary dict.

        Stop strings are applied here: the text ends with the stop string, and the job is
        cancelled so its row stops at the next step. The job's slot is freed by the worker once
        the row has stopped, so a request whose reader vanished still frees it.
        """
        ids: list[int] = []
        text = ""
        finish = "length"
        try:
            while True:
                wait = None if job.deadline is None else max(0.0, job.deadline - time.monotonic()) + 5
                try:
                    item = job.tokens.get(timeout=wait)
                except queue.Empty:  # the worker is stuck behind other batches
                    job.timed_out = True
                    job.cancel.set()
                    break
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise item
                ids.append(item)
                full = self.tokenizer.decode(ids, skip_special_tokens=True)
                piece, text = full[len(text):], full
                stop = next((s for s in job.params.stop if s in text), None)
                if stop is not None:
                    text = text[:text.index(stop) + len(stop)]
                    piece = piece[:max(0, len(piece) - (len(full) - len(text)))]
                yield {"id": item, "text": piece, "special": item in self._special_ids}
                if item in self._eos_ids:
                    finish = "eos_token"
                    break
                if stop is not None:
                    finish = "stop_sequence"
                    break
                if len(ids) >= job.params.max_new_tokens:
                    break
        finally:
            job.cancel.set()  # a consumer that stops early (client gone) ends the row too
        if job.timed_out:
            raise RequestTimedOut(f"the request took longer than the server's limit of "
                                  f"{self.request_timeout:g} s")
        yield {"summary": True, "text": text, "ids": ids, "finish_reason": finish,
               "queue_time": (job.started or time.monotonic()) - job.enqueued,
               "inference_time": time.monotonic() - (job.started or time.monotonic())}

    def generate(self, prompt: str, params: GenerationParams) -> dict:
        """Blocking: validate, queue, wait; the whole answer with its tokens and finish reason."""
        params, prompt_ids = self.check(prompt, params)
        job = self.submit(prompt_ids, params)
        tokens = []
        for event in self.events(job):
            if event.get("summary"):
                return {**event, "tokens": tokens, "prompt_tokens": len(prompt_ids), "seed": params.seed}
            tokens.append(event)
        raise RuntimeError("the token stream ended without a summary")

    def info(self) -> dict:
        return {
            "model_id": str(self.model_id),
            "model_dtype": str(self.dtype).removeprefix("torch."),
            "model_device_type": self.device,
            "max_input_tokens": self.max_total_tokens - 1,
            "max_total_tokens": self.max_total_tokens,
            "max_new_tokens": self.max_new_tokens_limit,
            "max_stop_sequences": MAX_STOP_SEQUENCES,
            "max_concurrent_requests": self.max_concurrent_requests,
            "max_batch_size": self.max_batch_size,
            "max_wait_ms": self.max_wait * 1000,
            "request_timeout_s": self.request_timeout,
            "version": __version__,
        }
