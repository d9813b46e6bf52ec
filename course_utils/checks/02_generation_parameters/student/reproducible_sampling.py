# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "reproducible_sampling"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_same_seed_same_text(sample_with_seed):
    import torch
    from transformers import pipeline
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path
    pipe = pipeline('text-generation', model=str(tiny_model_path()), do_sample=False)
    hint = 'does your function loop until something that never happens, or wait for a thread or a lock?'
    prompt = 'My favourite place is'
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    first = within(15, sample_with_seed, pipe, prompt, 3, hint=hint)
    assert isinstance(first, str) and first.strip(), 'return the new text as a non-empty string'
    assert not first.startswith(prompt), 'return only the new text: pass return_full_text=False'
    assert torch.equal(torch.get_rng_state(), state), "your function changed PyTorch's global random state, so the random draws of the rest of the program now depend on your seed: seed inside `with torch.random.fork_rng():`, or save the state first and restore it afterwards"
    torch.rand(10)
    other = within(15, sample_with_seed, pipe, prompt, 4, hint=hint)
    again = within(15, sample_with_seed, pipe, prompt, 3, hint=hint)
    assert again == first, 'seed 3 gave two different texts: seed inside your function, right before generating, with torch.manual_seed(seed) (or transformers.set_seed(seed))'
    assert other != first, 'seeds 3 and 4 gave the same text: does your function use its seed, and does it sample? Pass do_sample=True: the pipeline your function is given decodes greedily unless told to sample'

@test_case(points=None, hidden=False)
def test_up_to_twenty_new_tokens(sample_with_seed):
    from transformers import pipeline
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path
    pipe = pipeline('text-generation', model=str(tiny_model_path()), do_sample=False)
    eos = pipe.model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    runs = []
    original = pipe.model.generate

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        ids = kwargs.get('input_ids', kwargs.get('inputs', args[0] if args else None))
        for row in getattr(out, 'sequences', out):
            new = row[ids.shape[-1]:].tolist()
            runs.append((len(new), any((t in eos for t in new))))
        return out
    pipe.model.generate = spy
    hint = 'does your function loop until something that never happens, or wait for a thread or a lock?'
    for seed in (5, 6):
        within(15, sample_with_seed, pipe, 'Once upon a time', seed, hint=hint)
    assert runs, 'call the pipeline `generator` your function is given (the check watches its model)'
    longest = max((n for n, _ in runs))
    assert longest <= 20, f'{longest} new tokens were generated: stop at 20 with max_new_tokens=20'
    short = [n for n, ended in runs if not ended and n < 20]
    assert not short, f'generation stopped after {min(short)} new tokens although the model had not finished: up to 20 means 20 unless the model ends earlier. Use max_new_tokens=20 (max_length counts the prompt too)'

@test_case(points=None, hidden=False)
def test_the_model_may_end_early(sample_with_seed):
    import inspect
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM, pipeline
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path
    path = str(tiny_model_path())
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    model.requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(path)
    eos, end_at = (tokenizer.eos_token_id, 6)
    real_forward, real_generate, state, runs = (model.forward, model.generate, {'prompt': None}, [])

    def forward(*args, **kwargs):
        bound = inspect.signature(LlamaForCausalLM.forward).bind(model, *args, **kwargs).arguments
        ids, cache = (bound.get('input_ids'), bound.get('past_key_values'))
        seen = (cache.get_seq_length() if cache is not None else 0) + (ids.shape[1] if ids is not None else bound['inputs_embeds'].shape[1])
        state['prompt'] = seen if state['prompt'] is None else state['prompt']
        out = real_forward(*args, **kwargs)
        if seen - state['prompt'] == end_at - 1:
            out.logits[:, -1, eos] = out.logits[:, -1].max() + 50
        return out

    def spy(*args, **kwargs):
        state['prompt'] = None
        out = real_generate(*args, **kwargs)
        ids = kwargs.get('input_ids', kwargs.get('inputs', args[0] if args else None))
        runs.extend((len(row) - ids.shape[-1] for row in getattr(out, 'sequences', out)))
        return out
    model.forward, model.generate = (forward, spy)
    pipe = pipeline('text-generation', model=model, tokenizer=tokenizer, do_sample=False)
    text = within(15, sample_with_seed, pipe, 'Once upon a time', 8, hint='does your function loop until something that never happens, or wait for a thread or a lock?')
    assert runs, 'call the pipeline `generator` your function is given (the check watches its model)'
    assert max(runs) <= end_at, f'this model ends its text with the end-of-sequence token as new token {end_at}, but generation went on to {max(runs)} new tokens: up to 20 means the model may end earlier. Do not force a length (min_new_tokens)'
    assert isinstance(text, str) and tokenizer.eos_token not in text, f'your text holds the end-of-sequence token {tokenizer.eos_token}: return only the new text, without special tokens (the pipeline skips them; after generate(), decode with skip_special_tokens=True)'

