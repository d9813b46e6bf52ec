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

