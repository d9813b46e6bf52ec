"""Where a decoding step's time goes (course_utils/bench/step.py), on the tiny model."""

import torch

from course_utils.bench.step import READ, compare_steps, profile_step, report


def test_a_step_is_timed_in_parts_and_its_heaviest_operations_named(tiny_dir):
    from course_utils.server.engine import Engine

    engine = Engine(str(tiny_dir), dtype=torch.float32, prefix_cache_tokens=0, pack_weights=False)
    engine.close()
    measured = profile_step(engine, rows=3, steps=4, top=3)
    assert all(measured[part] > 0 for part in ("forward", "sample", "accept"))
    assert measured["step"] == measured["forward"] + measured["sample"] + measured["accept"]
    names = [name for name, *_ in measured["ops"]]
    assert len(names) == 3 and "aten::mm" in names, names  # a step is mostly matrix products
    lines = report("as loaded", 3, measured)
    assert lines[0].startswith("as loaded, 3 row(s): step ") and "tokens/s" in lines[0]
    assert len(lines) == 4


def test_ways_of_decoding_are_timed_in_turn(tiny_dir):
    from course_utils.server.decode import DecodeStep
    from course_utils.server.engine import Engine

    engine = Engine(str(tiny_dir), dtype=torch.float32, prefix_cache_tokens=0, fast_decode=False)
    engine.close()
    ways = {"model": (engine.model, None), "step": (engine.model, DecodeStep(engine.model))}
    medians = compare_steps(engine, rows=2, ways=ways, steps=3)
    assert set(medians) == {"model", "step"} and all(ms > 0 for ms in medians.values())
    bounded = compare_steps(engine, rows=1, ways=ways, steps=3, read_bytes=64 * 2**20)
    assert set(bounded) == {"model", "step", READ} and bounded[READ] > 0, "the read in turn with the steps"
    measured = profile_step(engine, rows=2, steps=2, top=2, step=ways["step"][1])
    assert measured["first_logits"].shape == (2, engine.model.config.vocab_size)
