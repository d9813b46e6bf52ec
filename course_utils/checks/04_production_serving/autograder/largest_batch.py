# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "largest_batch"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_llama3_on_an_h100(largest_batch):
    from transformers import LlamaConfig
    from course_utils.exercises import answered
    assert answered(largest_batch), 'write `largest_batch` first'
    llama3 = LlamaConfig(hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, num_hidden_layers=32)
    got = largest_batch(llama3, 8030000000, 80 * 10 ** 9, 8192)
    assert isinstance(got, int), 'return a whole number of sequences (an int: use // or int())'
    assert got == 59, 'Llama 3 8B, 8192 tokens, an 80 GB GPU: weights = parameters x bytes; KV cache per sequence = 2 x layers x key-value heads x head dim x tokens x bytes; subtract the weights, then divide, rounding down'
    assert largest_batch(llama3, 8030000000, 24 * 10 ** 9, 8192) == 7, 'the same model on a 24 GB GPU: round down, a partial sequence does not fit'

@test_case(points=None, hidden=True)
def test_other_architectures_and_limits(largest_batch):
    from transformers import GemmaConfig, GPT2Config, LlamaConfig
    gpt2 = GPT2Config()
    try:
        fits = largest_batch(gpt2, 124000000, 16 * 10 ** 9, 1024, bytes_per_value=4)
    except AttributeError:
        raise AssertionError('a GPT-2 config has no num_key_value_heads and no head_dim: read them with getattr(config, name, None) and fall back as the text says') from None
    assert fits == 205, 'GPT-2 has no num_key_value_heads and no head_dim: use num_attention_heads and hidden_size // num_attention_heads (and bytes_per_value for weights and cache alike)'
    gemma = GemmaConfig()
    assert largest_batch(gemma, 8540000000, 40 * 10 ** 9, 4096) == 12, "Gemma's config gives head_dim = 256, which is not hidden_size // num_attention_heads: use it"
    small = LlamaConfig(hidden_size=512, num_attention_heads=8, num_key_value_heads=2, num_hidden_layers=4)
    per_sequence = 2 * 4 * 2 * 64 * 100 * 2
    assert largest_batch(small, 1000, 2000 + 3 * per_sequence, 100) == 3, 'memory left after the weights that holds exactly 3 sequences: 3 fit'
    assert largest_batch(small, 1000, 2000 + 3 * per_sequence - 1, 100) == 2, 'one byte less than 3 sequences need: 2 fit'
    assert largest_batch(small, 1000, 1500, 100) == 0, 'weights that do not fit: 0, never a negative number'
    assert largest_batch(small, 1000, 2000 + per_sequence - 1, 100) == 0, 'not even one sequence fits: 0'

