from otter.test_files import test_case

OK_FORMAT = False

name = "kv_cache"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_smollm2(kv_cache_bytes, engine):
    config = engine.model.config
    assert kv_cache_bytes(config, 1, 1) == 2 * 30 * 3 * 64 * 2, 'one token of SmolLM2 in bf16'
    assert kv_cache_bytes(config, 8192, 16) == 2 * 30 * 3 * 64 * 8192 * 16 * 2
    assert kv_cache_bytes(config, 100, 1, bytes_per_value=4) == 2 * 30 * 3 * 64 * 100 * 4

