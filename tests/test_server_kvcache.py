"""The KV cache layer with room to grow: the same keys and values as transformers' DynamicLayer,
without a copy per step (course_utils/server/kvcache.py)."""

import torch
from transformers.cache_utils import DynamicLayer

from course_utils.server.kvcache import GrowingLayer, new_cache


def steps(layer, n, rows=2, heads=3, dim=4, first=5):
    torch.manual_seed(0)
    out = None
    for length in [first] + [1] * n:
        k, v = torch.randn(rows, heads, length, dim), torch.randn(rows, heads, length, dim)
        out = layer.update(k, v)
    return out


def test_holds_what_dynamic_layer_holds_across_growing(monkeypatch):
    monkeypatch.setattr(GrowingLayer, "room", 3)  # grows every 3 steps
    grown, plain = GrowingLayer(), DynamicLayer()
    (k1, v1), (k2, v2) = steps(grown, 10), steps(plain, 10)
    assert k1.shape == k2.shape == (2, 3, 15, 4)
    assert torch.equal(k1, k2) and torch.equal(v1, v2)
    assert grown.get_seq_length() == plain.get_seq_length() == 15


def test_a_step_within_the_room_writes_in_place():
    layer = GrowingLayer()
    steps(layer, 1)
    buffer = layer._buffers["keys"].data_ptr()
    steps_more = torch.randn(2, 3, 1, 4)
    layer.update(steps_more, steps_more)
    assert layer._buffers["keys"].data_ptr() == buffer, "copied although there was room"
    assert torch.equal(layer.keys[:, :, -1:], steps_more)


def test_assigned_keys_and_values_replace_the_buffers():
    layer = GrowingLayer()
    steps(layer, 2)  # 7 positions held
    keys, values = layer.keys[:1, :, 2:], layer.values[:1, :, 2:]  # what Batch.keep does
    layer.keys = keys
    assert layer.values.shape[2] == 7, "values keep their own length until they are assigned"
    layer.values = values
    new = torch.ones(1, 3, 1, 4)
    k, v = layer.update(new, new)
    assert k.shape == v.shape == (1, 3, 6, 4)
    assert torch.equal(k[:, :, :5], keys) and torch.equal(v[:, :, -1:], new)


def test_new_cache_has_one_growing_layer_per_model_layer(tiny_model_and_tokenizer):
    model = tiny_model_and_tokenizer[0]
    cache = new_cache(model)
    assert len(cache.layers) == model.config.num_hidden_layers
    assert all(type(layer) is GrowingLayer for layer in cache.layers)
