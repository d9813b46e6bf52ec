"""The compiled one-row decoding step (course_utils/server/compiled.py): close to the model's forward,
one compilation for every context length, everything else through DecodeStep."""

import pytest
import torch

from course_utils.server import compiled as compiled_module
from course_utils.server.compiled import CompiledStep
from course_utils.server.decode import DecodeStep
from test_server_decode import prefilled  # a batch of rows prefilled, its next tokens the argmax


@pytest.fixture(scope="module", autouse=True)
def lighter_compilation():
    """Compiled in this process (no pool of compile workers): what these tests check does not
    depend on it, and it saves CPU seconds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiled_module, "OPTIONS", {**compiled_module.OPTIONS, "compile_threads": 1})
        yield


@pytest.fixture(scope="module")
def compiled(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    step = CompiledStep(model, DecodeStep(model))
    assert step.why_not == "not compiled yet (warm_up)" and step.compile_s is None
    assert step.warm_up() is not None, step.why_not
    return model, tokenizer, step


def test_one_row_goes_through_the_graph_close_to_the_models_forward(compiled):
    model, tokenizer, step = compiled
    before = step.calls
    with torch.inference_mode():
        theirs, ours = (prefilled(model, tokenizer, ["The sea is very"]) for _ in range(2))
        for i in range(20):  # 20 context lengths, one graph
            expected, got = theirs.decode(model), ours.decode(model, step)
            assert torch.allclose(got, expected, atol=1e-3, rtol=1e-3), f"step {i}: the logits are far apart"
            assert torch.equal(got.argmax(-1), expected.argmax(-1)), f"step {i}: another next token"
            theirs.last = ours.last = expected.argmax(-1)
    assert step.calls - before == 20, "every one-row step should have gone through the graph"
    for a, b in zip(ours.cache.layers, theirs.cache.layers, strict=True):
        assert a.keys.shape == b.keys.shape and torch.allclose(a.keys, b.keys, atol=1e-3, rtol=1e-3)


def test_two_rows_go_through_decode_step_and_the_one_left_through_the_graph(compiled):
    model, tokenizer, step = compiled
    prompts = ["Hello there", "One two three four five six"]
    with torch.inference_mode():
        theirs, ours = (prefilled(model, tokenizer, prompts) for _ in range(2))
        before = step.calls
        for _ in range(2):
            assert torch.equal(ours.decode(model, step), theirs.decode(model)), "two rows: DecodeStep's bits"
        assert step.calls == before, "two rows go through DecodeStep"
        theirs.keep([0])
        ours.keep([0])  # the short prompt stays; the batch cuts the padding no row needs
        for i in range(3):
            theirs.last = ours.last = torch.tensor([5 + i])
            expected, got = theirs.decode(model), ours.decode(model, step)
            assert torch.allclose(got, expected, atol=1e-3, rtol=1e-3), f"step {i} after the cut"
    assert step.calls == before + 3


def test_a_one_position_context_goes_through_decode_step(compiled):
    model, tokenizer, step = compiled
    with torch.inference_mode():
        batch = prefilled(model, tokenizer, ["A"])  # a context of 1 position: not the graph's
        assert batch.cache.layers[0].keys.shape[-2] == 1
        before = step.calls
        expected = DecodeStep(model)(batch.last, torch.cat([batch.mask, batch.mask.new_ones(1, 1)], 1),
                                     batch.positions, prefilled(model, tokenizer, ["A"]).cache)
        got = batch.decode(model, step)
    assert step.calls == before and torch.equal(got, expected)


def test_a_call_that_would_recompile_goes_through_decode_step_and_is_counted(compiled):
    model, tokenizer, step = compiled
    with torch.inference_mode():
        ours, theirs = (prefilled(model, tokenizer, ["The sea is very"]) for _ in range(2))
        before, refused = step.calls, step.fallbacks
        ours.last = ours.last.int()  # another dtype than the graph was compiled for: a recompile
        got, expected = ours.decode(model, step), theirs.decode(model, DecodeStep(model))
    assert step.calls == before and step.fallbacks == refused + 1
    assert torch.equal(got, expected), "the refused step should be DecodeStep's"


def test_the_engine_compiles_on_request_and_reports_it(tiny_dir, compiled, tiny_model_and_tokenizer):
    older = compiled[2]  # compiled before, for the same architecture: it must not lend its graph
    assert older.graph is not None
    from course_utils.server.engine import Engine, GenerationParams

    engine = Engine(tiny_dir, dtype=torch.float32, max_batch_size=4, compile_decode=True)
    try:
        info = engine.info()["decode_compiled"]
        assert info["rows"] == 1 and info["why_not"] is None and info["compile_s"] > 0, info
        assert info["fallbacks"] == 0 and info["steps"] == 0, info
        answer = engine.generate("Hello", GenerationParams(max_new_tokens=8))
        assert len(answer["ids"]) == 8 or answer["finish_reason"] != "length", answer
        steps = engine.info()["decode_compiled"]["steps"]
        assert steps >= 5, "one request alone: its steps should have gone through the graph"
    finally:
        engine.close()
    with torch.inference_mode():  # the older compiled step gave its graph up: DecodeStep's bits now
        model, tokenizer = tiny_model_and_tokenizer
        batch, again = prefilled(model, tokenizer, ["The sea"]), prefilled(model, tokenizer, ["The sea"])
        assert torch.equal(batch.decode(model, older), again.decode(model, DecodeStep(model)))
        assert older.graph is None and "later CompiledStep reset" in older.why_not
    with pytest.raises(ValueError, match="needs the engine's DecodeStep"):
        Engine(tiny_dir, dtype=torch.float32, fast_decode=False, compile_decode=True)


def test_the_command_line_asks_for_it(tiny_dir, capsys):
    from course_utils.server.cli import main, parser

    assert parser().parse_args(["--compile-decode"]).compile_decode
    assert not parser().parse_args([]).compile_decode, "opt-in: off by default"
    assert main(["--model", str(tiny_dir), "--compile-decode", "--fast-decode", "off"]) == 2
    assert "needs the engine's DecodeStep" in capsys.readouterr().out


def test_a_failed_compilation_leaves_decode_step_and_says_why(tiny_model_and_tokenizer, monkeypatch):
    model, tokenizer = tiny_model_and_tokenizer
    step = CompiledStep(model, DecodeStep(model))

    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    assert step.warm_up() is None
    assert "no C++ compiler here" in step.why_not and step.graph is None
    with torch.inference_mode():
        batch, again = prefilled(model, tokenizer, ["The sea"]), prefilled(model, tokenizer, ["The sea"])
        assert torch.equal(batch.decode(model, step), again.decode(model, DecodeStep(model)))


def test_a_warm_up_that_raises_leaves_a_working_engine(tiny_dir, monkeypatch):
    from course_utils.server.engine import Engine, GenerationParams

    def raising(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(CompiledStep, "warm_up", raising)
    engine = Engine(tiny_dir, dtype=torch.float32, compile_decode=True)
    try:
        assert engine.alive, "the worker should go on without its graph"
        assert engine.generate("Hello", GenerationParams(max_new_tokens=4))["ids"]
        assert engine.info()["decode_compiled"]["why_not"] == "not compiled yet (warm_up)"
    finally:
        engine.close()
