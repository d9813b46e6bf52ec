# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "stop_strings"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_cuts_at_the_earliest_stop_string(reply_until, model, tokenizer):
    import copy
    import torch
    from course_utils.exercises import within
    question = 'Describe a forest.'
    inputs = tokenizer.apply_chat_template([{'role': 'user', 'content': question}], add_generation_prompt=True, return_tensors='pt', return_dict=True).to(model.device)
    with torch.inference_mode():
        full = model.generate(**inputs, do_sample=False, max_new_tokens=30)[0, inputs['input_ids'].shape[1]:]
    reply = tokenizer.decode(full, skip_special_tokens=True)
    words = [w.strip('.,;:!?"\'()') for w in reply.split()]
    candidates = [s for s in ['.', ',', ';', ':', '!', '?', '\n'] + [w for w in words if len(w) >= 4] if reply.find(s) >= 8]
    candidates = sorted(dict.fromkeys(candidates), key=reply.find)
    early = candidates[0]
    late = next((s for s in candidates[1:] if reply.find(s) > reply.find(early) + len(early) and early not in s and (s not in early)), '§§')
    expected = reply[:reply.find(early)].strip()
    needed = next((k for k in range(1, len(full) + 1) if early in tokenizer.decode(full[:k], skip_special_tokens=True)))
    produced = []
    original_generate = model.generate

    def spy(*args, **kwargs):
        out = original_generate(*args, **kwargs)
        ids = kwargs.get('input_ids', kwargs.get('inputs', args[0] if args else None))
        produced.append(getattr(out, 'sequences', out).shape[-1] - ids.shape[-1])
        return out
    saved_config = copy.deepcopy(model.generation_config)
    model.generate = spy
    hint = 'does your function loop until something that never happens, or wait for a thread or a lock?'
    try:
        for stop in ([early], [late, early]):
            got = within(60, reply_until, model, tokenizer, question, stop, hint=hint)
            assert isinstance(got, str), 'return the reply as a string'
            assert early not in got, f"with stop={stop!r} your reply still contains {early!r}: stop at the stop string that comes first in the text, whatever its place in the list, and cut just before it (OpenAI's convention drops it)"
            assert reply.strip().startswith(got.strip()), 'your reply is not the start of the greedy answer: apply the chat template with add_generation_prompt=True, pass do_sample=False, and decode only the new tokens with skip_special_tokens=True'
            assert len(got.strip()) <= len(expected), f'with stop={stop!r} your reply goes on past the stop string that comes first in the text: cut just before it, whatever its place in the list'
            assert got.strip() == expected, f'with stop={stop!r} your reply ends too early: cut at the stop string that comes first in the text, and nowhere else'
        changed = model.generation_config.to_diff_dict() != saved_config.to_diff_dict()
    finally:
        del model.generate
        model.generation_config = saved_config
    assert not changed, 'your function changed model.generation_config, which changes every later generate() call: pass the settings to generate() instead'
    assert produced, 'call model.generate() (the check watches it)'
    assert max(produced) <= needed, f'generate() produced {max(produced)} new tokens: it should stop as soon as a stop string is complete. Pass stop_strings=stop with tokenizer=tokenizer (or a StopStringCriteria) instead of cutting a longer text afterwards'

@test_case(points=None, hidden=False)
def test_stops_inside_a_token_and_an_early_end(reply_until, tokenizer):
    import inspect
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within
    eos = tokenizer.eos_token_id
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)).eval()
    model.requires_grad_(False)
    real_forward, real_generate = (model.forward, model.generate)
    state = {'prompt': None, 'script': [], 'produced': []}

    def scripted_forward(*args, **kwargs):
        bound = inspect.signature(LlamaForCausalLM.forward).bind(model, *args, **kwargs).arguments
        ids, cache = (bound.get('input_ids'), bound.get('past_key_values'))
        seen = (cache.get_seq_length() if cache is not None else 0) + (ids.shape[1] if ids is not None else bound['inputs_embeds'].shape[1])
        state['prompt'] = seen if state['prompt'] is None else state['prompt']
        out = real_forward(*args, **kwargs)
        step, script = (seen - state['prompt'], state['script'])
        token = script[step] if step < len(script) else eos
        out.logits[:, -1, token] = out.logits[:, -1].max() + 50
        return out

    def spy(*args, **kwargs):
        state['prompt'] = None
        out = real_generate(*args, **kwargs)
        ids = kwargs.get('input_ids', kwargs.get('inputs', args[0] if args else None))
        state['produced'].append(getattr(out, 'sequences', out).shape[-1] - ids.shape[-1])
        return out
    model.forward, model.generate = (scripted_forward, spy)
    forest = tokenizer('The tall forest grows near the river.', add_special_tokens=False)['input_ids']
    short = tokenizer('It is blue.', add_special_tokens=False)['input_ids'] + [eos]
    hint = 'does your function loop until something that never happens, or wait for a thread or a lock?'
    cases = [(forest, ['ores'], 'the stop string starts and ends inside the last generated token'), (forest, ['est', 'for'], 'both stop strings end in the same last token'), (short, ['§§'], 'the model ends its reply (end-of-sequence token) before any stop string')]
    for script, stop, situation in cases:
        state.update(script=script, produced=[])
        got = within(60, reply_until, model, tokenizer, 'Describe a forest.', stop, hint=hint)
        found = [k for k in range(1, len(script) + 1) if any((s in tokenizer.decode(script[:k], skip_special_tokens=True) for s in stop))]
        needed = found[0] if found else len(script)
        reply = tokenizer.decode(script[:needed], skip_special_tokens=True)
        starts = [reply.find(s) for s in stop if s in reply]
        expected = reply[:min(starts)].strip() if starts else reply.strip()
        where = f'with stop={stop!r}, where {situation}'
        assert isinstance(got, str), 'return the reply as a string'
        assert state['produced'], 'call model.generate() on the model your function is given'
        assert max(state['produced']) <= needed, f"{where}, generate() produced {max(state['produced'])} new tokens: it should stop as soon as a stop string is complete (stop_strings= with tokenizer=, or a StopStringCriteria)"
        if got.strip() == expected:
            continue
        if tokenizer.eos_token in got:
            problem = 'your reply holds the end-of-sequence token: decode with skip_special_tokens=True'
        elif len(stop) > 1 and got.strip() == reply[:reply.find(stop[0])].strip():
            problem = 'you cut at the first stop string of the list: cut at the one that starts first in the text, whatever its place in the list'
        elif any((s in got for s in stop)):
            problem = 'your reply still contains a stop string: cut just before it'
        elif expected.startswith(got.strip()):
            problem = 'you cut too much, at a token boundary: cut the decoded text where the stop string starts (str.find), which may be inside a token'
        elif got.strip().startswith(expected):
            problem = 'your reply goes on past where the stop string starts: the last token may carry characters past the stop string (section 8), so cut where the stop string starts, not a fixed number of characters from the end'
        else:
            problem = 'return the greedy reply, special tokens skipped, cut just before the stop string that starts first in the text, stripped; the whole reply when none occurs'
        raise AssertionError(f'{where}: {problem}')

