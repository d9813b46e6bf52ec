from otter.test_files import test_case

OK_FORMAT = False

name = "first_sentence"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_sentence(first_sentence, model, tokenizer):
    reply = first_sentence(model, tokenizer, 'Tell me about the moon.')
    assert isinstance(reply, str) and reply.endswith('.'), f"the reply should end at the first '.', got {reply!r}"
    assert reply.count('.') == 1, f'the reply should hold one sentence, got {reply!r}'
    assert '<|im' not in reply and (not reply.startswith(('user', 'system'))), 'return only the new text, without special tokens'

@test_case(points=None, hidden=False)
def test_is_the_start_of_the_greedy_answer(first_sentence, model, tokenizer):
    import torch
    question = 'Describe a forest.'
    text = tokenizer.apply_chat_template([{'role': 'user', 'content': question}], tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors='pt').to(model.device)
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=60)
    full = tokenizer.decode(out[0, inputs['input_ids'].shape[1]:], skip_special_tokens=True).strip()
    expected = full[:full.index('.') + 1]
    got = first_sentence(model, tokenizer, question)
    assert got == expected, f"expected the greedy answer's first sentence {expected!r}, got {got!r}"

