"""The engine's own decoding step gives the same logits as the model's forward
(course_utils/server/decode.py)."""

import pytest
import torch

from course_utils.server.decode import DecodeStep, Projection
from course_utils.server.packed import PACKED_MAX_ROWS, can_pack
from course_utils.server.request import Channel, Request
from course_utils.server.sampling import SamplingParams
from course_utils.server.step import Batch, Row

PROMPTS = ["Hello there", "The sea is very", "One two three four five six", "A"]


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def model_and_tokenizer(request, tiny_dir, tiny_model_and_tokenizer):
    from transformers import AutoModelForCausalLM

    if request.param == "float32":
        return tiny_model_and_tokenizer
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.bfloat16).eval()
    return model, tiny_model_and_tokenizer[1]


def prefilled(model, tokenizer, prompts):
    rows = [Row(Request(tokenizer(p)["input_ids"], SamplingParams(max_new_tokens=99), Channel()), tokenizer,
                "cpu", eos_ids=set(), special_ids=set()) for p in prompts]
    batch, logits = Batch.prefill(model, rows, tokenizer.eos_token_id)
    batch.last = logits.argmax(-1)
    return batch


@pytest.mark.parametrize("prompts,exact", [(PROMPTS[:1], True), (PROMPTS, True), (PROMPTS[:2] * 2, True),
                                           (PROMPTS, False)],
                         ids=["one row", "rows with padding", "rows without padding",
                              "rows with padding, exact=False"])  # without padding exact=False differs
def test_the_same_logits_as_the_models_forward_step_after_step(model_and_tokenizer, prompts, exact):
    model, tokenizer = model_and_tokenizer
    step = DecodeStep(model)
    with torch.inference_mode():
        theirs, ours = prefilled(model, tokenizer, prompts), prefilled(model, tokenizer, prompts)
        for i in range(12):
            if i == 6 and len(prompts) > 1:  # a row leaves: the batch is cut, as in the server
                theirs.keep([0, 2, 3] if len(prompts) == 4 else [1])  # the rest keep padding (or none)
                ours.keep([0, 2, 3] if len(prompts) == 4 else [1])
            ours.alone = exact  # what Batch.decode hands to the step
            expected, got = theirs.decode(model), ours.decode(model, step)
            assert torch.equal(got, expected), f"step {i}: the logits differ from model(...)'s"
            theirs.last = ours.last = expected.argmax(-1)
    assert torch.equal(ours.positions, theirs.positions) and torch.equal(ours.mask, theirs.mask)
    for a, b in zip(ours.cache.layers, theirs.cache.layers, strict=True):
        assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values), "the cache differs"


def test_only_a_request_that_ran_alone_all_along_is_decoded_exactly(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    with torch.inference_mode():
        one, other = prefilled(model, tokenizer, PROMPTS[:1]), prefilled(model, tokenizer, PROMPTS[1:2])
        assert one.alone and not prefilled(model, tokenizer, PROMPTS[:2]).alone
        empty = Batch()
        empty.merge(one)
        assert empty.alone, "one request joining an empty batch is still alone"
        empty.merge(other)
        assert not empty.alone
        empty.keep([1])
        assert not empty.alone, "the row that stays has shared the batch: its rounding already changed"
        empty.keep([])
        assert empty.alone, "an emptied batch starts afresh"


def test_projections_are_fused_and_packed_where_the_bits_allow(model_and_tokenizer):
    """Which projections are packed depends on the CPU's kernels (a CI machine kept one of the tiny
    model's nine plain; this one none): asked here is what holds on any machine."""
    model = model_and_tokenizer[0]
    step = DecodeStep(model)
    assert step.projections == 4 * model.config.num_hidden_layers + 1

    def choices(decode_step):
        return [(p.kind, len(p.parts)) for p in decode_step.all_projections]

    state = torch.get_rng_state()
    assert choices(DecodeStep(model)) == choices(step), "seeded probes: the same choices every time"
    assert torch.equal(torch.get_rng_state(), state), "building a step leaves the global RNG alone"
    if can_pack(model) is None:  # bfloat16 on a CPU with oneDNN
        assert step.packed > 0 and step.fused > 0, "nothing packed or fused on a CPU with oneDNN bfloat16"
    else:  # float32: products of other widths may round otherwise (MKL): fused only where they do not
        assert step.packed == 0 and 0 <= step.fused <= 2 * model.config.num_hidden_layers
    assert DecodeStep(model, pack=False).packed == 0


class Fussy(Projection):
    """A projection whose first ``refuse`` candidates are taken to give other bits (-1: trusts all)."""

    refuse = 1

    def _same_as(self, weights):
        if self.refuse < 0:
            return True
        self.refuse -= 1
        return self.refuse < 0 and super()._same_as(weights)


def test_a_projection_fuses_first_and_falls_back_to_separate_products_when_the_bits_differ():
    weights = [torch.randn(8, 16), torch.randn(4, 16)]
    trusting = type("Trusting", (Fussy,), {"refuse": -1})(weights, pack=False)
    assert (trusting.kind, trusting.fused, len(trusting.parts)) == ("plain", True, 1), "one product first"
    fallback = Fussy(weights, pack=False)
    assert (fallback.kind, fallback.fused, len(fallback.parts)) == ("plain", False, 2)
    x = torch.randn(PACKED_MAX_ROWS + 3, 1, 16)  # more rows than a packed product takes, too
    for got, weight in zip(fallback(x), weights, strict=True):
        assert torch.equal(got, torch.nn.functional.linear(x, weight))
    for got, weight in zip(trusting(x), weights, strict=True):
        assert got.shape == (PACKED_MAX_ROWS + 3, 1, weight.shape[0]), "the fused output is split back"


def test_models_it_does_not_cover_are_named_with_the_reason(tiny_dir):
    from transformers import AutoModelForCausalLM

    eager = AutoModelForCausalLM.from_pretrained(tiny_dir, attn_implementation="eager")
    assert "'eager'" in DecodeStep.why_not(eager)
    with pytest.raises(ValueError, match="not 'sdpa'"):
        DecodeStep(eager)
    eager.config.model_type = "gpt2"
    assert "Llama-like" in DecodeStep.why_not(eager)


def test_the_engine_decodes_with_it_by_default_and_says_so(tiny_dir, tiny_model_and_tokenizer):
    from course_utils.server.engine import Engine

    model, tokenizer = tiny_model_and_tokenizer
    before = torch.get_num_threads()
    fast = Engine(str(tiny_dir), prefix_cache_tokens=0)
    plain = Engine(str(tiny_dir), prefix_cache_tokens=0, fast_decode=False)
    try:
        assert fast.info()["decode_step"] == "course" and fast.info()["decode_step_why_not"] is None
        assert fast.info()["decode_projections"]["total"] == 4 * model.config.num_hidden_layers + 1
        assert plain.info()["decode_step"] == "transformers"
        assert plain.info()["decode_step_why_not"] == "fast_decode=False"
        ids = tokenizer("The sea is very", return_tensors="pt")
        with torch.inference_mode():
            alone = model.generate(**ids, max_new_tokens=10, do_sample=False, eos_token_id=None,
                                   pad_token_id=tokenizer.eos_token_id)[0, ids["input_ids"].shape[1]:]
        params = SamplingParams(max_new_tokens=10)
        for engine in (fast, plain):  # the engine stops at an end-of-sequence token, generate() did not
            got = engine.generate("The sea is very", params)["ids"]
            assert got and got == alone.tolist()[: len(got)]
    finally:
        fast.close()
        plain.close()
    assert torch.get_num_threads() == before, "the engine sets its threads back after loading"
