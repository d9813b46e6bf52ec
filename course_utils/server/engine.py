"""The model side of the reference server: admission, step-level batching, and each request's events.

``Engine(model_path)`` loads the model and starts one worker thread (``worker.py``), the only one
that touches the model. ``check`` validates a request and tokenizes its prompt, ``submit`` admits
it (or raises ``Overloaded`` at once: 429), and ``events``/``stream`` read its tokens as they come.

How requests share the model, ``scheduler=``:

- ``"step"`` (default), step-level or continuous batching: a new request joins the running batch
  at the next decoding step, and a finished row leaves at once (``policy.StepPolicy``, ``step.py``).
- ``"static"``: dynamic batching, this engine's behaviour before: a batch starts when it is full or
  its oldest request has waited ``max_wait_ms``, and nobody joins until all of it has ended
  (``policy.StaticPolicy``). Kept to measure the difference (lesson 04).

Every request keeps its own settings inside a batch: greedy or sampling, temperature, top-k,
top-p, penalties, logit bias, seed (``sampling.py``), stop strings, token budget, stream,
cancellation and timeout.

Why a step loop of our own rather than transformers' ``ContinuousBatchingManager``
(``model.init_continuous_batching()``, what ``transformers serve --continuous-batching`` runs)?
Its manager shares ``do_sample``, the repetition penalty and stop strings between all requests
(only temperature, top-k and top-p can differ per request in transformers 5.23,
``add_request(**logit_processor_kwargs)``), while clients of this server send their own; and its
paged attention on CPU is pure PyTorch. The step loop here is TGI's design (left-padded KV cache,
rows merged and filtered; ``step.py``, about 240 lines with its docstrings). What it gives up:
the cache is not paged (a row's padding costs memory and attention time), and a long prompt is
prefilled in one go between two steps, pausing the others. Measuring both on this course's CPU
is one command (the README's "Load benchmark", with the figures): ``python -m
course_utils.bench.benchmark --servers reference-16 reference-static-16 transformers-cb
--clients 1 16 --max-tokens 64 --rates 0.55 --open-max-tokens 16:256``. Measured there (medians
of 3 runs): 1.38x the transformers manager's tokens per second at 16 clients, at a lower p95
(6.75 s against 9.19 s); p95 time to first token 0.15 s against static batching's 13.5 s under
open-loop load. Before prefix caching (``prefix.py``) and the growing KV cache (``kvcache.py``)
the same command gave 1.20x; prefix caching is most of the difference (the README's "Load
benchmark" has the figures of each part).
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator

from .. import __version__
from ..generation import MAX_STOP_SEQUENCES, GenerationParams, InvalidGenerationParams
from .errors import GenerationFailed, Overloaded, RequestTimedOut, ValidationFailed
from .events import Event, Failed, Finished, Token
from .grammar import Grammars, InvalidConstraint
from .policy import StaticPolicy, StepPolicy
from .prefix import DEFAULT_MAX_TOKENS as DEFAULT_PREFIX_CACHE_TOKENS
from .prefix import PrefixCache
from .request import Channel, Request
from .sampling import PER_ROW, SamplingParams, validate_sampling
from .step import Batch
from .worker import Worker

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "MAX_NEW_TOKENS_LIMIT",
    "Engine",
    "Overloaded",
    "RequestTimedOut",
    "ValidationFailed",
]

DEFAULT_MAX_NEW_TOKENS = 64
MAX_NEW_TOKENS_LIMIT = 512
SCHEDULERS = ("step", "static")


@contextlib.contextmanager
def serial_here(threads: int):
    """Compute on one thread in this block, then set ``threads`` again for threads started after.

    Why: OpenMP (GNU libgomp, PyTorch's on Linux) gives each thread that computes in parallel a team
    of its own; once two teams exist (the one that loaded the model and the worker's) there are
    more OpenMP threads than cores, and then an idle team member spins 100 times instead of 300,000
    before it sleeps (libgomp's manual, ``GOMP_SPINCOUNT``), so each of the ~1,000 parallel
    operations of a decoding step waits for a sleeping thread to wake. Measured on
    the course's 2-core CPU (one row, bfloat16, two threads, medians of 35 steps): the worker's
    step 22.7-23.6 ms while no other thread had computed, 37.8-41.3 ms after the main thread had
    run one parallel operation. Loading the model on one thread creates no team; the worker thread,
    started after, computes on ``threads`` (``tests/test_server_decode.py`` checks that the setting
    comes back; the time is measured, not tested).
    """
    import torch

    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Engine:
    """The model, the tokenizer, admission, and the worker thread that batches requests.

    ``max_batch_size``: most requests generated together (1: one at a time).
    ``max_wait_ms``: static scheduler only: how long a batch waits to fill before it starts
    (default 50); given with the step scheduler, which never waits, it is refused (ValueError).
    ``max_concurrent_requests``: requests admitted (waiting or running); more get ``Overloaded``.
    ``request_timeout``: seconds a request may take, waiting included; ``None``: no limit.
    ``max_prefill_tokens``: step scheduler: prompt tokens prefilled between two decoding steps.
    ``prefix_cache_tokens``: prompt positions whose keys and values are kept for later prompts that
    begin the same way (``prefix.py``; default 2048, about 90 MiB for the course model in float32);
    0 turns prefix caching off.
    ``threads``: PyTorch's compute threads, set for the whole process (``torch.set_num_threads``;
    the model is loaded on one, ``serial_here`` says why);
    ``None`` keeps the process's setting. The server's command line always sets it (``--threads``,
    default: every core this process may use), so that a stray ``OMP_NUM_THREADS=1`` left by a
    test run cannot slow it down unseen; ``/info`` reports it.
    ``pack_weights``: on a CPU with a bfloat16 model, pack each linear layer's weight once for
    oneDNN (``packed.py``: the same results). ``None`` (the default) packs when the engine computes
    on one thread, where it pays (a one-row step 78.0 ms as loaded, 37.1 packed); on two threads the
    server was slower packed (13.7-14.5 against 21.1-22.6 tokens/s at 1 client, measured before the
    model was loaded on one thread: ``serial_here``), so there it does not; ``True`` and ``False``
    decide. With ``DecodeStep`` (below) it matters for prompts only: the step packs its own.
    ``/info`` reports how many layers were packed (``packed_linears``) or why none were.
    ``fast_decode``: decoding steps through the engine's own ``DecodeStep`` (``decode.py``: the same
    logits as ``model(...)`` but where ``step.Batch.decode`` says, without transformers' per-call
    overhead; its weights packed unless ``pack_weights=False``). ``None`` (the default) when the
    model is one it covers (Llama-like, on a CPU), ``True`` requires it, ``False`` keeps
    ``model(...)``. ``/info``: ``decode_step`` and why not.
    ``compile_decode``: one-row steps through a graph compiled by ``torch.compile``
    (``compiled.py``: 1.7-2.3x as fast as ``DecodeStep`` for one stream here, other rounding than
    ``model(...)``, up to 2 minutes of compilation in the constructor); needs ``DecodeStep``.
    ``/info``: ``decode_compiled``.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        dtype=None,
        device: str | None = None,
        max_new_tokens_limit: int = MAX_NEW_TOKENS_LIMIT,
        max_total_tokens: int | None = None,
        max_batch_size: int = 16,
        max_wait_ms: float | None = None,
        max_concurrent_requests: int = 64,
        request_timeout: float | None = 120.0,
        scheduler: str = "step",
        max_prefill_tokens: int = 2048,
        prefix_cache_tokens: int = DEFAULT_PREFIX_CACHE_TOKENS,
        threads: int | None = None,
        pack_weights: bool | None = None,
        fast_decode: bool | None = None,
        compile_decode: bool = False,
    ) -> None:
        import torch

        from ..device import pick_device, pick_dtype
        from ..models import load_model, load_tokenizer, resolve_model

        if max_batch_size < 1 or max_concurrent_requests < 1:
            raise ValueError("max_batch_size and max_concurrent_requests must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1 (or None: PyTorch's setting), got {threads}")
        if prefix_cache_tokens < 0:
            raise ValueError(f"prefix_cache_tokens must be 0 (off) or more, got {prefix_cache_tokens}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        if scheduler == "step" and max_wait_ms is not None:
            raise ValueError("max_wait_ms applies to scheduler='static' only: the step scheduler "
                             "never waits, a request joins the running batch at the next step. "
                             "Leave max_wait_ms out, or pass scheduler='static'.")
        max_wait_ms = 50.0 if max_wait_ms is None else max_wait_ms
        if threads is not None:  # for the whole process: the worker thread starts below, after it
            torch.set_num_threads(threads)
        self.threads = torch.get_num_threads()
        self.model_id = model or resolve_model().path
        self.device = device or pick_device()
        self.dtype = dtype or pick_dtype(self.device)
        self.tokenizer = load_tokenizer(self.model_id)
        with serial_here(self.threads):
            self.model = load_model(self.model_id, dtype=self.dtype).to(self.device).eval()
            self.packed_linears, self.unpacked_why = 0, "pack_weights=False"
            if pack_weights is None and self.threads != 1:
                self.unpacked_why = (f"{self.threads} compute threads: packing pays on one "
                                     "(pack_weights=True forces it)")
            elif pack_weights is not False:
                from .packed import can_pack, pack_linears

                self.packed_linears = pack_linears(self.model)
                self.unpacked_why = can_pack(self.model) or "no layer gave the same bits packed"
            self.decode_step, self.decode_why_not = self._decode_step(fast_decode, pack_weights)
            if compile_decode:
                if self.decode_step is None:
                    raise ValueError(f"compile_decode=True needs the engine's DecodeStep, which is off here: "
                                     f"{self.decode_why_not}")
                from .compiled import CompiledStep

                self.decode_step = CompiledStep(self.model, self.decode_step)
        if not Batch.supports(self.model):
            raise ValueError(
                f"{self.model_id}: its KV cache is not a plain DynamicCache (a sliding window?); "
                "this engine cannot merge and cut it per row. Use a Llama-like model."
            )
        context = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_total_tokens = min(max_total_tokens or context, context)
        self.max_new_tokens_limit = max_new_tokens_limit
        self.max_batch_size, self.max_wait = max_batch_size, max_wait_ms / 1000
        self.max_concurrent_requests, self.request_timeout = max_concurrent_requests, request_timeout
        self.scheduler = scheduler
        self.prefix_cache = PrefixCache(prefix_cache_tokens) if prefix_cache_tokens else None
        policy = (
            StepPolicy(max_batch_size, max_prefill_tokens, per_row=PER_ROW)
            if scheduler == "step"
            else StaticPolicy(max_batch_size, self.max_wait, per_row=PER_ROW)
        )
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        self._admitted = 0
        self._admit_lock = threading.Lock()
        self.grammars = Grammars(self.tokenizer)
        self._worker = Worker(
            self.model, self.tokenizer, policy, pad_id=pad, eos_ids=eos_ids - {None}, release=self._release,
            prefixes=self.prefix_cache, grammars=self.grammars, decode_step=self.decode_step,
        )
        self.created = time.time()
        self._thread = threading.Thread(target=self._worker.run, daemon=True, name="engine-worker")
        self._thread.start()
        self._worker.ready.wait()  # a compiled step compiles on the worker's thread first

    def _decode_step(self, fast_decode: bool | None, pack_weights: bool | None):
        """The engine's own decoding step (``decode.py``) and why not, per ``fast_decode``."""
        from .decode import DecodeStep

        if fast_decode is False:
            return None, "fast_decode=False"
        why = DecodeStep.why_not(self.model)
        if why is not None:
            if fast_decode:
                raise ValueError(f"fast_decode=True, but {why}; leave fast_decode out to use model(...)")
            return None, why
        return DecodeStep(self.model, pack=pack_weights), None

    def _compiled_info(self) -> dict | None:
        """The compiled one-row step (``compiled.py``), when asked for: compile seconds, steps
        through it, why it is not used."""
        step = self.decode_step
        if step is None or not hasattr(step, "warm_up"):
            return None
        return {"rows": 1, "compile_s": None if step.compile_s is None else round(step.compile_s, 1),
                "steps": step.calls, "fallbacks": step.fallbacks, "why_not": step.why_not}

    # ------------------------------------------------------------ state
    @property
    def alive(self) -> bool:
        """Whether the worker thread runs."""
        return self._thread.is_alive()

    @property
    def queue_size(self) -> int:
        """Requests admitted and not yet started."""
        return self._worker.queue_size

    @property
    def running_batch_size(self) -> int:
        """Requests in the running batch."""
        return self._worker.running

    @property
    def admitted(self) -> int:
        """Requests admitted and not finished (waiting or running)."""
        return self._admitted

    @property
    def on_step(self):
        """An optional callback(rows in the batch), called by the worker after each decoding step."""
        return self._worker.on_step

    @on_step.setter
    def on_step(self, callback) -> None:
        self._worker.on_step = callback

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker thread (it finishes its current step first)."""
        self._worker.stopping = True
        self._thread.join(timeout)

    # ------------------------------------------------------------ admission
    def check(
        self, prompt: str, params: GenerationParams | None = None, *, truncate: int | None = None
    ) -> tuple[SamplingParams, list[int]]:
        """Validate against every rule; return the settings and the prompt's token ids.

        ``truncate``: keep only the last ``truncate`` tokens of the prompt (TGI's parameter).
        Raises ``ValidationFailed`` naming the field.
        """
        if not prompt.strip():
            raise ValidationFailed("`inputs` must not be empty", "inputs")
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        if truncate is not None:
            prompt_ids = prompt_ids[-truncate:]
        params = params if params is not None else GenerationParams()
        if not isinstance(params, SamplingParams):
            params = SamplingParams(**dataclasses.asdict(params))
        if params.max_new_tokens is None:  # not given: the default, within the limit and the context
            room = self.max_total_tokens - len(prompt_ids)
            params = dataclasses.replace(
                params, max_new_tokens=max(1, min(DEFAULT_MAX_NEW_TOKENS, self.max_new_tokens_limit, room))
            )
        try:
            params = validate_sampling(
                params,
                max_new_tokens_limit=self.max_new_tokens_limit,
                prompt_tokens=len(prompt_ids),
                max_total_tokens=self.max_total_tokens,
                vocab_size=len(self.tokenizer),
            )
        except InvalidGenerationParams as err:
            raise ValidationFailed(str(err), err.param) from None
        if params.constraint is not None:
            try:
                self.grammars.check(params.constraint)
            except InvalidConstraint as err:
                raise ValidationFailed(str(err), err.param) from None
        return params, prompt_ids

    def submit(self, prompt_ids: list[int], params: SamplingParams, *, loop=None) -> Request:
        """Admit a checked request, or raise ``Overloaded`` at once when the server is full.

        ``loop``: the event loop that will read its events (``stream``); None for ``events``.
        """
        with self._admit_lock:
            if self._admitted >= self.max_concurrent_requests:
                raise Overloaded("Model is overloaded")
            self._admitted += 1
        deadline = None if self.request_timeout is None else time.monotonic() + self.request_timeout
        request = Request(list(prompt_ids), params, Channel(loop), deadline)
        self._worker.inbox.put(request)
        return request

    def _release(self, request: Request) -> None:  # the worker is done with the request
        with self._admit_lock:
            self._admitted -= 1

    # ------------------------------------------------------------ reading a request's events
    def _patience(self, request: Request) -> float | None:
        """How long a reader waits for the next event: the deadline and a margin (a stuck worker)."""
        return None if request.deadline is None else max(0.0, request.deadline - time.monotonic()) + 5

    def _checked(self, request: Request, event: Event | None) -> Event:
        if event is None:  # nothing came in time: the worker is stuck behind something
            request.cancel.set()
            event = Failed("timeout")
        if isinstance(event, Failed):
            if event.kind == "timeout":
                raise RequestTimedOut(
                    f"the request took longer than the server's limit of {self.request_timeout:g} s"
                )
            raise GenerationFailed("the model failed on this request") from event.error
        return event

    def events(self, request: Request) -> Iterator[Token | Finished]:
        """Blocking: each ``Token`` as it comes, then the ``Finished`` event.

        Raises ``RequestTimedOut`` or ``GenerationFailed``. A reader that stops early cancels the
        request: its row leaves the batch at the next step.
        """
        try:
            while True:
                try:
                    event = request.channel.get(timeout=self._patience(request))
                except queue.Empty:
                    event = None
                event = self._checked(request, event)
                yield event
                if isinstance(event, Finished):
                    return
        finally:
            request.cancel.set()

    async def stream(self, request: Request) -> AsyncIterator[Token | Finished]:
        """``events`` for a reader on the event loop (the request was submitted with ``loop=``)."""
        try:
            while True:
                try:
                    event = await request.channel.aget(timeout=self._patience(request))
                except TimeoutError:
                    event = None
                event = self._checked(request, event)
                yield event
                if isinstance(event, Finished):
                    return
        finally:
            request.cancel.set()

    def generate(self, prompt: str, params: GenerationParams | None = None) -> dict:
        """Blocking: validate, queue, wait. The whole answer: ``text``, ``ids``, ``finish_reason``
        (``length``, ``eos_token``, ``stop_sequence``), ``tokens`` (the ``Token`` events),
        ``prompt_tokens``, ``seed``, ``queue_time`` and ``inference_time`` (seconds)."""
        params, prompt_ids = self.check(prompt, params)
        tokens = []
        for event in self.events(self.submit(prompt_ids, params)):
            if isinstance(event, Token):
                tokens.append(event)
            else:
                return {
                    "text": event.text,
                    "ids": list(event.token_ids),
                    "finish_reason": event.reason,
                    "tokens": tokens,
                    "prompt_tokens": event.prompt_tokens,
                    "cached_tokens": event.cached_tokens,
                    "seed": event.seed,
                    "queue_time": event.queue_time,
                    "inference_time": event.inference_time,
                }
        raise RuntimeError("the request's events ended without a Finished event")

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
            "scheduler": self.scheduler,
            "max_wait_ms": self.max_wait * 1000 if self.scheduler == "static" else None,
            "prefix_cache_tokens": self.prefix_cache.max_tokens if self.prefix_cache is not None else 0,
            "request_timeout_s": self.request_timeout,
            "threads": self.threads,
            "packed_linears": self.packed_linears,
            "packed_linears_why_not": self.unpacked_why if not self.packed_linears else None,
            "decode_step": "course" if self.decode_step is not None else "transformers",
            "decode_step_why_not": self.decode_why_not,
            "decode_projections": None if self.decode_step is None else {
                "total": self.decode_step.projections, "fused": self.decode_step.fused,
                "packed": self.decode_step.packed},
            "decode_compiled": self._compiled_info(),
            "version": __version__,
        }
