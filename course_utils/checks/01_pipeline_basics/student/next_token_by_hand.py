from otter.test_files import test_case

OK_FORMAT = False

name = "next_token_by_hand"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_returns_a_string(most_likely_next_token, model, tokenizer):
    got = most_likely_next_token(model, tokenizer, 'The capital of France is')
    assert isinstance(got, str), f'return the decoded token as a str, got {type(got).__name__}'

@test_case(points=None, hidden=False)
def test_matches_greedy_generate(most_likely_next_token, model, tokenizer):
    import torch
    for text in ['The capital of France is', 'One, two, three,']:
        inputs = tokenizer(text, return_tensors='pt').to(model.device)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=1, do_sample=False)
        expected = tokenizer.decode(out[0, -1])
        got = most_likely_next_token(model, tokenizer, text)
        assert got == expected, f'for {text!r} the most likely next token is {expected!r}, got {got!r}: take the argmax of the logits at the last position, logits[0, -1]'

