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

@test_case(points=None, hidden=True)
def test_other_models(kv_cache_bytes):
    from transformers import LlamaConfig
    llama8b = LlamaConfig(hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, num_hidden_layers=32)
    assert kv_cache_bytes(llama8b, 8192, 16) == 16 * 2 ** 30
    no_gqa = LlamaConfig(hidden_size=512, num_attention_heads=8, num_key_value_heads=None, num_hidden_layers=4)
    assert kv_cache_bytes(no_gqa, 10, 2) == 2 * 4 * 8 * 64 * 10 * 2 * 2
    own_head_dim = LlamaConfig(hidden_size=512, num_attention_heads=8, num_key_value_heads=2, num_hidden_layers=4, head_dim=128)
    assert kv_cache_bytes(own_head_dim, 10, 1) == 2 * 4 * 2 * 128 * 10 * 2

