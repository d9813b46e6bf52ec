"""Linear layers packed for oneDNN give the same bits as before (course_utils/server/packed.py)."""

import pytest
import torch

from course_utils.server.packed import PACKED_MAX_ROWS, PackedLinear, can_pack, pack_linears


@pytest.fixture()
def bf16_model(tiny_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.bfloat16).eval()
    why = can_pack(model)
    if why is not None:
        pytest.skip(f"cannot pack here: {why}")
    return model


def linear_count(model) -> int:
    return sum(type(m) in (torch.nn.Linear, PackedLinear) for m in model.modules())


def test_packed_layers_give_the_same_logits_and_greedy_tokens(bf16_model, tiny_model_and_tokenizer):
    tokenizer = tiny_model_and_tokenizer[1]
    ids = tokenizer(["The sea is very", "One two three four five six"], return_tensors="pt", padding=True)
    long = torch.randint(0, 1000, (1, PACKED_MAX_ROWS + 7))  # a prompt long enough for F.linear
    with torch.inference_mode():
        logits = bf16_model(**ids).logits
        long_logits = bf16_model(long).logits
        tokens = bf16_model.generate(**ids, max_new_tokens=8, do_sample=False,
                                     pad_token_id=tokenizer.eos_token_id)
        layers = linear_count(bf16_model)
        assert pack_linears(bf16_model) == layers, "every linear layer, the output layer too, is packed"
        assert all(type(m) is not torch.nn.Linear for m in bf16_model.modules())
        assert torch.equal(bf16_model(**ids).logits, logits), "packed layers changed the logits"
        assert torch.equal(bf16_model(long).logits, long_logits)
        again = bf16_model.generate(**ids, max_new_tokens=8, do_sample=False,
                                    pad_token_id=tokenizer.eos_token_id)
    assert torch.equal(again, tokens), "greedy tokens changed"
    assert pack_linears(bf16_model) == layers, "packing twice counts the packed layers, nothing more"


def test_a_model_that_cannot_be_packed_is_left_as_it_is(tiny_model_and_tokenizer):
    model = tiny_model_and_tokenizer[0]  # float32
    assert "float32" in can_pack(model)
    assert pack_linears(model) == 0
    assert not any(type(m) is PackedLinear for m in model.modules())


def test_the_engine_packs_on_one_thread_and_says_so(tiny_dir, bf16_model):
    from course_utils.server.engine import Engine

    before = torch.get_num_threads()  # an Engine's threads are the whole process's
    engines = []
    try:
        one = Engine(str(tiny_dir), dtype=torch.bfloat16, prefix_cache_tokens=0, threads=1)
        engines.append(one)
        assert one.info()["packed_linears"] == linear_count(bf16_model)
        assert one.info()["packed_linears_why_not"] is None
        two = Engine(str(tiny_dir), dtype=torch.bfloat16, prefix_cache_tokens=0, threads=2)
        engines.append(two)
        assert two.info()["packed_linears"] == 0, "on two threads packing was slower: not by default"
        assert two.info()["packed_linears_why_not"].startswith("2 compute threads")
        forced = Engine(str(tiny_dir), dtype=torch.bfloat16, prefix_cache_tokens=0, threads=2,
                        pack_weights=True)
        plain = Engine(str(tiny_dir), dtype=torch.bfloat16, prefix_cache_tokens=0, threads=1,
                       pack_weights=False)
        engines += [forced, plain]
        assert forced.info()["packed_linears"] == linear_count(bf16_model)
        assert plain.info()["packed_linears"] == 0
        assert plain.info()["packed_linears_why_not"] == "pack_weights=False"
        prompt = "Hello there"
        assert one.generate(prompt)["ids"] == plain.generate(prompt)["ids"]
    finally:
        for engine in engines:
            engine.close()
        torch.set_num_threads(before)
