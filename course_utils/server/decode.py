"""The engine's own decoding step for Llama-like models: transformers' arithmetic without its overhead.

A decoding step through ``model(...)`` (transformers 5.23) spends as much time around the matrix
products as in them: for one row of the course model in bfloat16 on the course's 2-core CPU, the
211 products take about 16 ms packed and the whole step 37-39 ms (``python -m
course_utils.bench.step``, 2026-12-04). The rest is per-call work repeated 30 times a step: module
calls and keyword plumbing, the causal mask built through ``create_causal_mask``, and three query,
key and value products where one would do (and two for the MLP's gate and up).

``DecodeStep`` does the same step with the same operations in the same order (the RMS norms in
float32, the rotary embedding, ``scaled_dot_product_attention`` on the same inputs, SiLU), so its
logits are the same bits as ``model(...)``'s wherever its fused and packed products give
``F.linear``'s (checked by examples when it is built: see the first point). What changes:

- the query, key and value weights are one matrix, the gate and up weights another (fewer, larger
  products); on a CPU with a bfloat16 model every weight is packed once for oneDNN
  (``packed.py``). Each fused or packed product is checked against ``F.linear`` on the separate
  weights when the step is built (seeded random inputs), and a projection that gives other bits is
  kept separate and plain. A check by examples can miss a different order of additions, which
  shows only where a sum rounds near a tie: for the tiny test model's fused query, key and value
  product (its key and value 32 wide), one row, 2 of 400 random inputs differed from the separate
  products, while the course model's first and last layers gave the same bits for 200 of 200
  inputs of 1 and of 8 rows, packed or plain, fused or apart (2026-12-04, this 2-core CPU);
- the padding mask is built once per step from the batch's own (``None`` when no row has padding),
  not through ``create_causal_mask``; the attention takes the path transformers takes for it
  (``enable_gqa`` without a mask, the query heads that share a key head folded into one "query
  length" with one, transformers' ``pack_gqa``);
- with ``exact=False`` the folded heads also where no row has padding. The two paths round
  differently, and ``enable_gqa`` costs more as the context grows: one row of bfloat16, 2 threads,
  74 against 29 us per layer at 100 positions, 284 against 47 at 400 (2026-12-04). The engine
  passes ``exact=False`` once a request has shared a batch (``step.Batch.alone``): its answer left
  ``generate()``'s rounding when it was first padded, so only the request that ran alone all along
  keeps ``generate()``'s bits, and it does: greedy 128-token answers of the course model in
  bfloat16 equal ``generate()``'s for 8 of 8 prompts, while the folded heads for one row changed
  7 of 8 (after 8 to 71 tokens);
- the queries and keys rotated in one go, the residual additions in place, no module calls, no
  output objects: fewer PyTorch calls for the same arithmetic.

Measured (``python -m course_utils.bench.step``, the course model in bfloat16, medians of 40
steps, 2026-12-04, idle cores): see ``docs/server.md``'s "Where a decoding step goes".

Written by hand because nothing in transformers or PyTorch does this without compiling the model
(``torch.compile`` changes the bits, and takes minutes on a 2-core CPU); it is what nano-vllm's and
vLLM's model files do, for one architecture. Models it does not cover (another architecture, biases,
an attention other than ``sdpa``, a GPU, where it was not checked) keep ``model(...)``:
``DecodeStep.why_not(model)`` says why.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.integrations.sdpa_attention import use_gqa_in_sdpa

from .packed import PACKED_MAX_ROWS, can_pack, linear_packed, reorder

LAYER_CLASSES = ("LlamaDecoderLayer", "LlamaAttention", "LlamaMLP", "LlamaRMSNorm")
PROBE_ROWS = (1, 2, 3, 8, 16, PACKED_MAX_ROWS)  # rows a decoding step may have
PROBE_OUTPUTS, PROBE_MAX = 8192, 16  # outputs compared per row count, and at most so many probes


class Projection:
    """Some linear layers that read the same input, computed as one product when that gives the
    same bits as computing them apart (and packed for oneDNN when that does too)."""

    def __init__(self, weights: list[torch.Tensor], pack: bool) -> None:
        self.weights, self.sizes = weights, [w.shape[0] for w in weights]  # the model's own tensors
        fused = torch.cat(weights) if len(weights) > 1 else weights[0]
        candidates = []
        if pack:
            candidates.append(("packed", [reorder(fused)]))
        candidates.append(("plain", [fused]))
        if len(weights) > 1:
            if pack:
                candidates.append(("packed", [reorder(w) for w in weights]))
            candidates.append(("plain", list(weights)))
        for kind, parts in candidates:
            self.kind, self.parts = kind, parts
            if self._same_as(weights):
                break
        self.fused = len(self.parts) == 1 and len(weights) > 1

    def products(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The products as computed: one tensor when the weights are one matrix, else one each."""
        if self.kind == "plain":
            return [F.linear(x, p) for p in self.parts]
        if x.numel() // x.shape[-1] <= PACKED_MAX_ROWS:
            return [linear_packed(x, p) for p in self.parts]
        return [F.linear(x, w) for w in self.weights]  # many rows: as fast unpacked, the reference

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One output per weight."""
        outs = self.products(x)
        return outs if len(outs) == len(self.sizes) else list(outs[0].split(self.sizes, dim=-1))

    def joined(self, x: torch.Tensor, first: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The first ``first`` outputs side by side in one tensor (a view of the product when the
        weights are one matrix), and the other outputs apart."""
        outs = self.products(x)
        if len(outs) == 1 and len(self.sizes) > 1:
            width = sum(self.sizes[:first])
            return outs[0][..., :width], list(outs[0][..., width:].split(self.sizes[first:], dim=-1))
        return torch.cat(outs[:first], dim=-1), outs[first:]

    def _same_as(self, weights: list[torch.Tensor]) -> bool:
        """The same bits as ``F.linear`` on each weight, for seeded random probes of each row count
        a step may have (about ``PROBE_OUTPUTS`` outputs each, at least one probe: a sum rounded
        near a tie shows a different order only now and then); seeded, so a model gets the same
        choice every time."""
        generator = torch.Generator(device=weights[0].device).manual_seed(0)  # the global RNG untouched
        outputs = sum(w.shape[0] for w in weights)
        for rows in PROBE_ROWS:
            for _ in range(max(1, min(PROBE_MAX, PROBE_OUTPUTS // (rows * outputs)))):
                probe = torch.randn(rows, 1, weights[0].shape[1], dtype=weights[0].dtype,
                                    device=weights[0].device, generator=generator)
                try:
                    got = self(probe)
                except RuntimeError:  # an operation this build lacks
                    return False
                if not all(torch.equal(g, F.linear(probe, w)) for g, w in zip(got, weights, strict=True)):
                    return False
        return True


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """``LlamaRMSNorm.forward``, the same operations."""
    h = x.to(torch.float32)
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return weight * h.to(x.dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``apply_rotary_pos_emb`` for one tensor, the same operations."""
    half = x.shape[-1] // 2
    return (x * cos) + (torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin)


def fold_heads(query: torch.Tensor, kv_heads: int) -> torch.Tensor:
    """``[rows, heads, 1, dim]`` -> ``[rows, kv_heads, heads // kv_heads, dim]``: the query heads that
    share a key and value head become that head's "queries" (transformers' ``pack_gqa``)."""
    rows, heads, _, dim = query.shape
    return query.reshape(rows, kv_heads, heads // kv_heads, dim)


class DecodeStep:
    """One decoding step of a Llama-like model, same bits as ``model(...)``: see the module docstring.

    ``DecodeStep(model)`` raises ``ValueError`` for a model it does not cover (``why_not``).
    ``step(last, mask, positions, cache)`` takes each row's last token ``[rows]``, the attention
    mask with the new position already appended ``[rows, length]`` (1 for a real token), each row's
    position ``[rows]`` and the running batch's cache (which it extends by one position); it returns
    the logits of each row's next token ``[rows, vocab]``. ``exact=False``: the folded attention
    even where no row has padding (see the module docstring).
    """

    def __init__(self, model, pack: bool | None = None) -> None:
        why = self.why_not(model)
        if why is not None:
            raise ValueError(why)
        pack = can_pack(model) is None if pack is None else pack
        config, inner = model.config, model.model
        self.embed, self.rotary, self.eps = inner.embed_tokens.weight, inner.rotary_emb, config.rms_norm_eps
        self.final_norm = inner.norm.weight
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        with torch.inference_mode():
            self.layers = [self._layer(layer, pack) for layer in inner.layers[: config.num_hidden_layers]]
            self.head = Projection([model.lm_head.weight.detach()], pack)
        self.head_dim = inner.layers[0].self_attn.head_dim
        projections = [p for layer in self.layers for p in (layer[1], layer[2], layer[4], layer[5])]
        self.all_projections = [*projections, self.head]  # each layer's four, then the output layer
        self.packed = sum(p.kind == "packed" for p in self.all_projections)
        self.fused = sum(p.fused for p in projections)
        self.projections = len(self.all_projections)

    @staticmethod
    def why_not(model) -> str | None:
        """Why ``DecodeStep`` cannot run ``model`` (None: it can)."""
        config = model.config
        if model.device.type != "cpu":
            return (f"the model is on {model.device.type}: DecodeStep was checked against model(...) "
                    "on a CPU only")
        if getattr(config, "model_type", None) != "llama":
            return f"written for Llama-like models, this one is {getattr(config, 'model_type', '?')!r}"
        layer = model.model.layers[0]
        found = (type(layer).__name__, type(layer.self_attn).__name__, type(layer.mlp).__name__,
                 type(layer.input_layernorm).__name__)
        if found != LAYER_CLASSES:
            return f"its layers are {found}, not {LAYER_CLASSES}"
        if config._attn_implementation != "sdpa":
            return f"its attention is {config._attn_implementation!r}, not 'sdpa'"
        if config.attention_bias or config.mlp_bias or config.hidden_act != "silu":
            return "it has biases or an activation other than SiLU"
        if getattr(config, "pretraining_tp", 1) != 1:
            return "pretraining_tp is not 1"
        return None

    @staticmethod
    def _layer(layer, pack: bool) -> tuple:
        attn, mlp = layer.self_attn, layer.mlp
        qkv = Projection([attn.q_proj.weight.detach(), attn.k_proj.weight.detach(),
                          attn.v_proj.weight.detach()], pack)
        gate_up = Projection([mlp.gate_proj.weight.detach(), mlp.up_proj.weight.detach()], pack)
        return (layer.input_layernorm.weight, qkv, Projection([attn.o_proj.weight.detach()], pack),
                layer.post_attention_layernorm.weight, gate_up,
                Projection([mlp.down_proj.weight.detach()], pack), attn.scaling)

    def _attend(self, q, k, v, padding, scaling: float, exact: bool) -> torch.Tensor:
        """Attention as transformers' ``sdpa_attention_forward`` computes it for a one-token query:
        with ``enable_gqa`` when there is no mask (``use_gqa_in_sdpa``), else the folded heads; with
        ``exact=False``, the folded heads always."""
        if exact and self.kv_heads < self.heads and use_gqa_in_sdpa(padding, k, v):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, scale=scaling,
                                                  is_causal=False, enable_gqa=True)
        return F.scaled_dot_product_attention(fold_heads(q, self.kv_heads), k, v, attn_mask=padding,
                                              dropout_p=0.0, scale=scaling, is_causal=False)

    def __call__(self, last: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 cache, exact: bool = True) -> torch.Tensor:
        rows = last.shape[0]
        x = F.embedding(last[:, None], self.embed)
        padding = None if bool(mask.all()) else mask.bool()[:, None, None, :]
        cos, sin = self.rotary(x, positions[:, None])
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        for index, (norm1, qkv, out, norm2, gate_up, down, scaling) in enumerate(self.layers):
            qk, (v,) = qkv.joined(rms_norm(x, norm1, self.eps), 2)  # queries and keys rotated together
            qk = rotate(qk.view(rows, 1, heads + kv_heads, dim).transpose(1, 2), cos, sin)
            k, v = cache.layers[index].update(qk[:, heads:], v.view(rows, 1, kv_heads, dim).transpose(1, 2))
            attended = self._attend(qk[:, :heads], k, v, padding, scaling, exact)
            # [rows, heads (or key heads, folded queries), 1, dim] -> [rows, 1, heads * dim]: the
            # order transformers' reshape, transpose and reshape give
            x.add_(out(attended.reshape(rows, 1, heads * dim).contiguous())[0])
            gate, up = gate_up(rms_norm(x, norm2, self.eps))
            x.add_(down(F.silu(gate) * up)[0])
        return self.head(rms_norm(x, self.final_norm, self.eps))[0][:, -1]
