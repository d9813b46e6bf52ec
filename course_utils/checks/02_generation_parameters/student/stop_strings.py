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

