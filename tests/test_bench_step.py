"""Where a decoding step's time goes (course_utils/bench/step.py), on the tiny model."""

import torch

from course_utils.bench.step import profile_step, report


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
