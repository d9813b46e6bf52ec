"""Linear layers whose weights are packed once for oneDNN: a faster decoding step on a CPU.

Where a decoding step's time goes (issue 24; ``python -m course_utils.bench.step``, the course
model in bfloat16 on the course's 2-core CPU, 2026-12-04): with one row, three quarters of the
step is ``aten::mm``, the 211 matrix products of the 30 layers and the output layer, each with one
row of input. ``F.linear`` hands each to oneDNN with the weight in its plain layout, and oneDNN
reorders the weight into its blocked layout on every call. ``pack_linears`` reorders each
``nn.Linear``'s weight once (``torch.ops.mkldnn._reorder_linear_weight``, what ``torch.compile``
does to a frozen model's linear layers on a CPU) and runs the layer with the packed weight
(``torch.ops.mkldnn._linear_pointwise``) while the input has few rows (decoding: one row per
request); a prompt's many rows (prefill) keep ``F.linear``.

Measured (medians of 40 steps): on one compute thread a step of one row took 78.0 ms as loaded
and 37.1 ms packed (2.10x), of 16 rows 108.8 and 86.5 ms (1.26x); on two threads 37.7 and
36.6 ms (1.03x), 75.6 and 74.2 ms: two threads hide most of the reordering, packed one thread is
as fast as two. In the server (1 client, 20 s) two threads were slower packed (13.7-14.5 tokens/s
against 21.1-22.6 as loaded), one thread faster (18.1-19.8 against 13.7): the engine packs by
default only when it computes on one thread (``Engine(pack_weights=None)``).

The results are the same bits as ``F.linear``'s (checked on each layer when it is packed: a layer
whose packed product differs is left as it was), so greedy answers do not change.

Written here because PyTorch offers this only inside ``torch.compile`` (minutes of compilation on
a 2-core CPU) and transformers not at all. The packed copies take as much memory again as the
weights of the packed layers (about 270 MB for the course model).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PACKED_MAX_ROWS = 64  # inputs with more rows (prompts) use F.linear, as fast there


def reorder(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` (``[out, in]``) in oneDNN's blocked layout, for ``linear_packed``."""
    return torch.ops.mkldnn._reorder_linear_weight(weight, 1)


def linear_packed(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` with ``packed = reorder(weight)``."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


class PackedLinear(torch.nn.Linear):
    """An ``nn.Linear`` with ``packed_weight``, oneDNN's blocked copy of its weight."""

    packed_weight: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() >= 2 and x.numel() // x.shape[-1] <= PACKED_MAX_ROWS and not x.requires_grad:
            return linear_packed(x, self.packed_weight, self.bias)
        return F.linear(x, self.weight, self.bias)


def can_pack(model) -> str | None:
    """Why ``model``'s linear layers cannot be packed here (None: they can)."""
    if model.device.type != "cpu":
        return f"the model is on {model.device.type}, not a CPU"
    if model.dtype != torch.bfloat16:
        return f"the model is in {str(model.dtype).removeprefix('torch.')}, not bfloat16"
    if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "this CPU or PyTorch build has no oneDNN bfloat16 support"
    return None


def pack_linears(model) -> int:
    """Pack every ``nn.Linear`` of ``model`` (see the module docstring); returns how many were.

    A model ``can_pack`` refuses is left as it is (0). Safe to call twice.
    """
    if can_pack(model) is not None:
        return 0
    packed = 0
    with torch.inference_mode():
        for module in model.modules():
            if type(module) is PackedLinear:
                packed += 1
                continue
            if type(module) is not torch.nn.Linear:
                continue
            weight = module.weight.detach()
            generator = torch.Generator().manual_seed(0)  # each layer the same probes every call
            try:
                packed_weight = reorder(weight)
                same = all(
                    torch.equal(
                        linear_packed(probe, packed_weight, module.bias),
                        F.linear(probe, weight, module.bias),
                    )
                    for probe in (torch.randn(rows, weight.shape[1], dtype=weight.dtype, generator=generator)
                                  for rows in (1, 5))
                )
            except RuntimeError:  # an op this build lacks: the layer stays as it is
                continue
            if same:
                module.packed_weight = packed_weight
                module.__class__ = PackedLinear
                packed += 1
    return packed
