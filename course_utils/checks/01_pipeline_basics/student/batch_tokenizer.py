from otter.test_files import test_case

OK_FORMAT = False

name = "batch_tokenizer"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_pads_on_the_left(batch_tokenizer):
    assert getattr(batch_tokenizer, 'padding_side', None) == 'left', "set padding_side='left': the model continues from the last position, which must be a real token, not padding"
    assert batch_tokenizer.pad_token is not None, 'set a pad token (for example the eos token)'

@test_case(points=None, hidden=False)
def test_short_prompt_is_padded_in_front(batch_tokenizer):
    batch = batch_tokenizer(['Hi', 'A much longer prompt than the first'], padding=True)
    first, mask = (batch['input_ids'][0], batch['attention_mask'][0])
    assert first[0] == batch_tokenizer.pad_token_id and mask[0] == 0, 'the shorter prompt should start with padding (attention mask 0)'
    assert mask[-1] == 1, 'the shorter prompt should end with its real tokens'

