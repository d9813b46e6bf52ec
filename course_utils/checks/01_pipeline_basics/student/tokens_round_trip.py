from otter.test_files import test_case

OK_FORMAT = False

name = "tokens_round_trip"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_token_ids_are_a_list_of_ints(token_ids):
    assert isinstance(token_ids, list), f"token_ids should be a list, got {type(token_ids).__name__}; index the tokenizer's output with ['input_ids'] and do not ask for tensors"
    assert token_ids and all((isinstance(i, int) for i in token_ids)), 'token_ids should hold ints (the token ids)'

@test_case(points=None, hidden=False)
def test_token_ids_match_the_tokenizer(token_ids, tokenizer, exercise_text):
    expected = tokenizer(exercise_text)['input_ids']
    assert token_ids == expected, f'expected {len(expected)} ids {expected}, got {token_ids}: tokenize exercise_text itself'

@test_case(points=None, hidden=False)
def test_decoded_round_trip(decoded, exercise_text):
    assert decoded == exercise_text, f'decoding the ids should give back {exercise_text!r}, got {decoded!r}'

