"""The one-row decoding step compiled by ``torch.compile``: faster, at the price of other rounding.

With one row (one stream), ``DecodeStep`` (``decode.py``) leaves two costs (issue 24; the course
model in bfloat16 on the course's 2-core CPU, 2026-12-04):

- its 121 matrix products, oneDNN's with one row of input, read the weights at about half the
  machine's read bandwidth: 18.3 ms for the 269 MB, where reading them took 9.3 ms (29.0 GB/s, 2
  threads; a script outside the repository timing the products alone);
- about 40 small operations per layer (the RMS norms, the rotary embedding, SiLU, the additions),
  each a call from Python into PyTorch.

``CompiledStep`` hands the whole step, 30 layers and the output layer, to ``torch.compile`` as one
graph with the weights frozen into it (inductor's ``freezing``), which lets inductor write its own
C++ matrix-vector products for these weights (``max_autotune`` with its ``CPP`` GEMM template only,
see ``gemm_backends``) and fuse the small operations into a few loops. The products alone,
compiled so (with oneDNN's candidates beside inductor's, the setting before): 10.6 ms, 25.3 GB/s
(the same script, the same minute). A whole step of one row (``python -m
course_utils.bench.step --rows 1 --compiled``, three runs): 11.9, 12.5 and 12.0 ms against 24.0,
25.1 and 23.6 ms for ``DecodeStep`` (the ways in turn, medians of 60; in the last run 65% of the
bound, the weights' bytes read in turn with the steps in 7.8 ms), 9.5, 12.2 and 11.8 ms each alone
with sampling (``docs/server.md``).

What it costs, and why it is not the default:

- **other bits**: inductor's products and fused loops add in another order, so the logits differ
  from ``model(...)``'s (by at most 0.375 for the course model's one row in both runs, the same
  next token); a greedy answer leaves ``generate()``'s wherever two candidates were closer than
  that, as vLLM's do (it compiles too): the course model's answer to "Tell me a story about a
  cat." did at its 6th token (``docs/server.md``). ``DecodeStep`` keeps ``generate()``'s bits;
- **a compilation at start**: 52-62 s on the course's 2-core CPU (six starts, 2026-12-04; 95 s
  with an empty inductor cache and oneDNN's candidates, the setting before ``OPTIONS``'s);
  ``compile_s`` in ``/info``;
- **one row only**: the graph is compiled for one row (every context length); a step with more
  rows goes through ``DecodeStep``, as does a row whose context is shorter than 2 positions
  (compiling those would mean one more compilation each). ``torch.compiler.set_stance
  ("fail_on_recompile")`` guards the call: anything that would recompile runs ``DecodeStep``.

Written here, not taken from a library, because transformers' own ``torch.compile`` support is for
its static cache (``generate(cache_implementation="static")``), not a running batch whose rows
come and go; this is what vLLM does for its model, one graph per step.
"""

from __future__ import annotations

import logging
import time
import weakref

import torch
import torch.nn.functional as F

from .decode import DecodeStep, fold_heads, rms_norm, rotate

log = logging.getLogger("course_utils.server")
_live: list = []  # a weak reference to the CompiledStep whose graph is dynamo's current one

# inductor's settings while the graph compiles: weights frozen into the graph, so that its C++
# GEMM template may take the products (``gemm_backends`` adds which); its timings of each
# candidate in the log only (not printed, for a server's output)
OPTIONS = {"freezing": True, "max_autotune": True,
           "autotune_num_choices_displayed": 0, "max_autotune_report_choices_stats": False}


def gemm_backends() -> str:
    """Whose matrix products the graph may use: inductor's C++ ones only ("CPP") on an x86 CPU with
    AVX2 or AVX-512, where its micro-kernels are vectorised; oneDNN's beside them ("CPP,ATEN")
    elsewhere (an ARM CPU, no vector ISA), where inductor's would be a scalar reference kernel.

    Why not both on x86: autotuning times each candidate on weights already in cache, and took
    oneDNN for 30 products (one a layer), which streamed from memory in a real step made it slower
    (13.5 against 11.7 ms, 15.1 against 9.2 in another pair of runs: ``python -m
    course_utils.bench.step --rows 1 --compiled``, 2026-12-04, the course's AVX-512 CPU).
    """
    from torch._inductor.cpu_vec_isa import VecAVX2, VecAVX512, pick_vec_isa

    return "CPP" if isinstance(pick_vec_isa(), (VecAVX2, VecAVX512)) else "CPP,ATEN"


class _Layers(torch.nn.Module):
    """The step's arithmetic as one module: ``DecodeStep``'s, with its weights as buffers (the
    model's own tensors, but q|k|v and gate|up joined: a copy, 139 MB for the course model in
    bfloat16; inductor's frozen graph keeps its own packed copies besides). Not ``DecodeStep``
    itself compiled: its products call oneDNN's packed weights, which dynamo cannot trace."""

    def __init__(self, model, step: DecodeStep) -> None:
        super().__init__()
        inner, config = model.model, model.config
        self.heads, self.kv_heads, self.dim, self.eps = step.heads, step.kv_heads, step.head_dim, step.eps
        self.inner_size = config.intermediate_size
        self.scaling = inner.layers[0].self_attn.scaling
        self.count = len(inner.layers)
        with torch.inference_mode():
            for i, layer in enumerate(inner.layers):
                attn, mlp = layer.self_attn, layer.mlp
                self.register_buffer(f"norm1_{i}", layer.input_layernorm.weight.detach())
                self.register_buffer(f"qkv_{i}", torch.cat(
                    [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).detach())
                self.register_buffer(f"out_{i}", attn.o_proj.weight.detach())
                self.register_buffer(f"norm2_{i}", layer.post_attention_layernorm.weight.detach())
                self.register_buffer(f"gate_up_{i}",
                                     torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach())
                self.register_buffer(f"down_{i}", mlp.down_proj.weight.detach())
        self.register_buffer("final_norm", inner.norm.weight.detach())
        self.register_buffer("head", model.lm_head.weight.detach())
        self.register_buffer("embed", inner.embed_tokens.weight.detach())

    def forward(self, last, cos, sin, padding, keys: list, values: list):
        """Logits of the next token, and each layer's keys and values with the new position."""
        rows, heads, kv_heads, dim = last.shape[0], self.heads, self.kv_heads, self.dim
        x = F.embedding(last[:, None], self.embed)
        new_keys, new_values = [], []
        for i in range(self.count):
            y = F.linear(rms_norm(x, getattr(self, f"norm1_{i}"), self.eps), getattr(self, f"qkv_{i}"))
            qk = rotate(y[..., : (heads + kv_heads) * dim].view(rows, 1, heads + kv_heads, dim)
                              .transpose(1, 2), cos, sin)
            k = torch.cat([keys[i], qk[:, heads:]], dim=-2)
            v = torch.cat([values[i], y[..., (heads + kv_heads) * dim:].view(rows, 1, kv_heads, dim)
                           .transpose(1, 2)], dim=-2)
            new_keys.append(k)
            new_values.append(v)
            attended = F.scaled_dot_product_attention(fold_heads(qk[:, :heads], kv_heads), k, v,
                                                      attn_mask=padding, scale=self.scaling)
            x = x + F.linear(attended.reshape(rows, 1, heads * dim), getattr(self, f"out_{i}"))
            gate_up = F.linear(rms_norm(x, getattr(self, f"norm2_{i}"), self.eps),
                               getattr(self, f"gate_up_{i}"))
            x = x + F.linear(F.silu(gate_up[..., : self.inner_size]) * gate_up[..., self.inner_size:],
                             getattr(self, f"down_{i}"))
        return F.linear(rms_norm(x, self.final_norm, self.eps), self.head)[:, -1], new_keys, new_values


class CompiledStep:
    """``DecodeStep``'s interface; one row through the compiled graph (see the module docstring).

    ``CompiledStep(model, step)``: ``step`` is the model's ``DecodeStep``, which takes every step
    the graph does not. Nothing is compiled until ``warm_up()`` (call it on the thread that will
    decode: PyTorch's OpenMP threads belong to the thread that computes; it resets dynamo's caches,
    ``torch._dynamo.reset()``, for the whole process). ``compile_s``: how long that took;
    ``why_not``: why the graph is not used (None: it is); ``calls`` and ``fallbacks``: one-row steps
    through the graph, and through ``DecodeStep`` because the graph would have recompiled. The call
    runs under ``torch.compiler.set_stance("fail_on_recompile")``, a setting of the whole process
    while it lasts.
    """

    def __init__(self, model, step: DecodeStep) -> None:
        self.step, self.rotary = step, step.rotary
        self.layers = _Layers(model, step).eval()
        self.graph = None
        self.compile_s: float | None = None
        self.why_not: str | None = "not compiled yet (warm_up)"
        self.calls = 0  # one-row steps through the graph
        self.fallbacks = 0  # one-row steps the graph refused (it would have recompiled)

    def __getattr__(self, name):  # DecodeStep's figures (projections, fused, packed)
        step = self.__dict__.get("step")
        if step is None:
            raise AttributeError(name)
        return getattr(step, name)

    def warm_up(self) -> float | None:
        """Compile the one-row graph (a step on a made-up context); returns the
        seconds it took, or None when it failed (``why_not`` says why; ``DecodeStep`` then runs)."""
        started = time.perf_counter()
        log.info("compiling the one-row decoding step (torch.compile; up to 2 minutes on 2 cores)")
        # dynamo keeps compiled code per function, and would hand this model's step another model's
        # frozen weights: one compiled step per process, the newest (the older one: DecodeStep)
        for ref in _live:
            older = ref()
            if older is not None:
                older.graph = None
                older.why_not = ("a later CompiledStep reset dynamo's caches to compile (one per "
                                 "process)")
        _live.clear()
        torch._dynamo.reset()
        # a made-up context length that no other input size equals: dynamo gives equal sizes one
        # symbol ("duck shaping"), and a length equal to the key heads (3 for the course model)
        # would be fixed to it, so that every other length recompiled
        kv_heads, dim = self.step.kv_heads, self.step.head_dim
        length = next(n for n in range(5, 1000) if not {n, n + 1} & {kv_heads, dim})
        try:
            from torch._inductor import config as inductor

            graph = torch.compile(self.layers, dynamic=True)
            # (as a patch of inductor's settings, not torch.compile(options=...): freezing is read
            # where those do not reach, and the graph compiled unfrozen)
            with torch.inference_mode(), inductor.patch({"max_autotune_gemm_backends": gemm_backends(),
                                                         **OPTIONS}):
                head = self.layers.head
                keys, values = ([torch.zeros(1, kv_heads, length, dim, dtype=head.dtype, device=head.device)
                                 for _ in range(self.layers.count)] for _ in range(2))
                last = torch.zeros(1, dtype=torch.long, device=head.device)
                mask = torch.ones(1, length + 1, dtype=torch.long, device=head.device)
                cos, sin, padding = self._inputs(last, mask, torch.full_like(last, length))
                graph(last, cos, sin, padding, keys, values)
        except Exception as err:  # no C++ compiler, an operation inductor lacks: DecodeStep runs
            self.why_not = f"torch.compile failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
            log.warning("the compiled decoding step is off: %s", self.why_not)
            return None
        self.graph, self.why_not = graph, None
        _live.append(weakref.ref(self))
        self.compile_s = time.perf_counter() - started
        log.info("compiled the one-row decoding step in %.0f s", self.compile_s)
        return self.compile_s

    def _inputs(self, last, mask, positions):
        x = F.embedding(last[:, None], self.layers.embed)  # the rotary embedding's dtype and device
        cos, sin = self.rotary(x, positions[:, None])
        return cos.unsqueeze(1), sin.unsqueeze(1), mask.bool()[:, None, None, :]

    def __call__(self, last: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 cache, exact: bool = True) -> torch.Tensor:
        layers = cache.layers
        if self.graph is None or last.shape[0] != 1 or layers[0].keys.shape[-2] < 2:
            return self.step(last, mask, positions, cache, exact)
        cos, sin, padding = self._inputs(last, mask, positions)
        # the graph was compiled for contiguous caches; a prefill's are views of buffers with room
        # (kvcache.GrowingLayer): one copy here, then the graph's outputs are stored, without room,
        # and each step concatenates, as transformers' DynamicLayer does
        keys = [layer.keys.contiguous() for layer in layers]
        values = [layer.values.contiguous() for layer in layers]
        try:
            with torch.compiler.set_stance("fail_on_recompile"):
                logits, keys, values = self.graph(last, cos, sin, padding, keys, values)
        except Exception as err:  # it would recompile (minutes): this step through DecodeStep
            if not self.fallbacks:  # said once; /info counts them
                log.warning("a one-row step went through DecodeStep, the graph would recompile: %s",
                            str(err).splitlines()[0][:200])
            self.fallbacks += 1
            return self.step(last, mask, positions, cache, exact)
        for layer, k, v in zip(layers, keys, values, strict=True):
            layer.keys, layer.values = k, v
        self.calls += 1
        return logits
