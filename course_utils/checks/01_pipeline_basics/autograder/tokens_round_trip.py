# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "tokens_round_trip"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_round_trip(encode_decode, tokenizer):
    import copy
    from course_utils.exercises import answered, within
    assert answered(encode_decode), 'write encode_decode(tokenizer, text) first'

    class Recording:

        def __init__(self, inner):
            object.__setattr__(self, '_inner', inner)
            object.__setattr__(self, 'used', set())

        def __call__(self, *args, **kwargs):
            self.used.add('__call__')
            return self._inner(*args, **kwargs)

        def __len__(self):
            return len(self._inner)

        def __getattr__(self, name):
            self.used.add(name)
            return getattr(self._inner, name)
    decoders = {'decode', 'batch_decode', 'convert_tokens_to_string', 'convert_ids_to_tokens', '_decode', 'backend_tokenizer', '_tokenizer'}
    strict = copy.deepcopy(tokenizer)
    strict.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output = True
    for text in ['Pipelines hide three stages.', 'Stop here<|im_end|> then more', 'Wait , what ? Yes !']:
        spy = Recording(strict)
        result = within(20, encode_decode, spy, text, hint='encode_decode should return at once')
        assert isinstance(result, (tuple, list)) and len(result) == 2, f'return a pair (ids, decoded), got {type(result).__name__}'
        ids, decoded = result
        assert isinstance(ids, (list, tuple)), f"ids should be a plain Python list of ints, got {type(ids).__name__}: tokenizer(text)['input_ids'] is one (a tensor's .tolist() gives one too)"
        assert all((type(i) is int for i in ids)), 'ids should hold Python ints, one per token (not strings, not nested lists)'
        assert list(ids) == tokenizer(text)['input_ids'], f"for {text!r} your ids are not the tokenizer's ids for the text: tokenize the text itself, with the default settings"
        assert isinstance(decoded, str), f'decoded should be a str, got {type(decoded).__name__}'
        if '<|im_end|>' in text and decoded == text.replace('<|im_end|>', ''):
            raise AssertionError('the decoded text lost <|im_end|>: skip_special_tokens=True drops special tokens; an exact round trip must keep them')
        if ' ,' in text and decoded == strict.clean_up_tokenization(text):
            raise AssertionError("the decoded text lost the spaces before ',', '?' and '!': clean_up_tokenization_spaces=True (or clean_up_tokenization) removes them. transformers 5.23 skips that clean-up for this tokenizer, but 5.5 and WordPiece tokenizers apply it: decode without it")
        assert decoded == text, f'decoding gave {decoded!r}, which is not the text back: decode the ids with tokenizer.decode(ids), without extra options'
        assert spy.used & decoders, 'decoded should come from decoding the ids with the tokenizer (tokenizer.decode), not from a copy of the text'

@test_case(points=None, hidden=True)
def test_round_trip_limits(encode_decode, tokenizer):
    from course_utils.exercises import within
    cases = [('', 'the empty text'), (' Café 🦁\n  two  spaces ', 'spaces around it, accents, an emoji and a newline')]
    for text, what in cases:
        ids, decoded = within(20, encode_decode, tokenizer, text, hint='encode_decode should return at once')
        assert isinstance(ids, (list, tuple)) and list(ids) == tokenizer(text)['input_ids'], f"with {what}, ids should be the tokenizer's ids for the text, as a list of ints"
        assert decoded == text, f'with {what}, decoding your ids does not give the text back exactly: decode with tokenizer.decode(ids) and do not strip or clean the result'

