# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "batch_generate"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_greedy_left_padded_call(generate_batch, tokenizer):
    import copy
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import answered, within
    assert answered(generate_batch), 'write generate_batch(model, tokenizer, prompts, max_new_tokens) first'
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    model.generation_config.do_sample = True
    model.generation_config.max_new_tokens = 40
    prompts = ['Hi', 'Tell me a long story about a dragon who guards a library', 'Why is the sky blue?']
    reference = copy.deepcopy(tokenizer)
    reference.pad_token = reference.eos_token
    batch = reference(prompts, return_tensors='pt', padding=True, padding_side='left')
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=5, do_sample=False, pad_token_id=reference.eos_token_id)
    wanted = reference.batch_decode(out[:, batch['input_ids'].shape[1]:], skip_special_tokens=True)
    theirs = copy.deepcopy(tokenizer)
    theirs.padding_side, theirs.pad_token = ('right', None)
    calls = []
    real_generate = model.generate

    def recording_generate(*args, **kwargs):
        calls.append({'ids': kwargs.get('input_ids', args[0] if args else None), 'mask': kwargs.get('attention_mask')})
        return real_generate(*args, **kwargs)
    model.generate = recording_generate
    try:
        got = within(30, generate_batch, model, theirs, prompts, 5, hint='one generate() call of 5 tokens should finish at once')
    except AssertionError:
        raise
    except Exception as err:
        raise AssertionError(f'your generate_batch raised {type(err).__name__}: {str(err)[:200]} (the tokenizer here pads on the right and has no pad token: give a copy of it one, e.g. the eos token)') from None
    assert theirs.padding_side == 'right' and theirs.pad_token is None, "generate_batch changed the tokenizer it was given: work on a copy (copy.deepcopy(tokenizer)), or pass padding_side='left' to the one call that needs it"
    assert len(calls) == 1, f'call model.generate() once for the whole batch, not {len(calls)} times'
    ids, mask = (calls[0]['ids'], calls[0]['mask'])
    assert ids is not None and ids.shape[0] == len(prompts), 'pass all the prompts to generate() as one batch of input_ids (one row per prompt)'
    assert mask is not None, 'pass the attention mask to generate(), so that it ignores the padding'
    assert bool(mask[:, -1].all()), 'pad on the left: with right padding the short prompts end in padding, and the model continues from a pad token (section 5)'
    assert isinstance(got, list) and len(got) == len(prompts) and all((isinstance(g, str) for g in got)), 'return a list with one string per prompt'
    if got != wanted:
        if [g.strip() for g in got] == [w.strip() for w in wanted]:
            hint = 'do not strip the replies: return the decoded new text as it is'
        elif all((g.endswith(w) and len(g) > len(w) for g, w in zip(got, wanted))):
            hint = "return only the new text: cut the prompt's ids off before decoding"
        else:
            hint = "make it greedy (do_sample=False: this model's generation config samples), stop at max_new_tokens, and decode only the new ids with skip_special_tokens=True"
        raise AssertionError(f'the replies are not the greedy continuations of the prompts: {hint}')

@test_case(points=None, hidden=False)
def test_inputs_on_the_model_device(generate_batch, tokenizer):
    import copy
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within

    class Reached(BaseException):
        pass
    with torch.device('meta'):
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)).eval()
    seen = []

    def generate(*args, **kwargs):
        ids = kwargs.get('input_ids', args[0] if args else None)
        seen.append(getattr(getattr(ids, 'device', None), 'type', None))
        raise Reached()
    model.generate = generate
    try:
        within(30, generate_batch, model, copy.deepcopy(tokenizer), ['Hi', 'Hello there'], 3, hint='your function did not return')
    except Reached:
        pass
    except Exception as err:
        if 'device' in str(err).lower() or 'meta' in str(err).lower():
            raise AssertionError(f'with the model on another device your function failed ({type(err).__name__}): move the inputs with .to(model.device)') from None
        raise
    assert seen, 'your function never called model.generate()'
    assert seen[0] == 'meta', f"the model was on the 'meta' device but your inputs were on {seen[0]}: move them with .to(model.device) (on a GPU the model is on 'cuda' and CPU inputs fail)"

@test_case(points=None, hidden=False)
def test_rows_that_end_early(generate_batch, tokenizer):
    import copy
    import inspect
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within
    eos, budget = (tokenizer.eos_token_id, 6)
    scripts = [tokenizer(' Wait , what ?', add_special_tokens=False)['input_ids'] + [eos], [eos], tokenizer(' and then the river turned north again', add_special_tokens=False)['input_ids']]
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)).eval()
    model.requires_grad_(False)
    real_forward, real_generate, state = (model.forward, model.generate, {'prompt': None})

    def scripted_forward(*args, **kwargs):
        bound = inspect.signature(LlamaForCausalLM.forward).bind(model, *args, **kwargs).arguments
        ids, cache = (bound.get('input_ids'), bound.get('past_key_values'))
        seen = (cache.get_seq_length() if cache is not None else 0) + (ids.shape[1] if ids is not None else bound['inputs_embeds'].shape[1])
        state['prompt'] = seen if state['prompt'] is None else state['prompt']
        out = real_forward(*args, **kwargs)
        step = seen - state['prompt']
        for row, script in enumerate(scripts[:out.logits.shape[0]]):
            token = script[step] if step < len(script) else eos
            out.logits[row, -1, token] = out.logits[row, -1].max() + 50
        return out

    def fresh_generate(*args, **kwargs):
        state['prompt'] = None
        return real_generate(*args, **kwargs)
    model.forward, model.generate = (scripted_forward, fresh_generate)
    prompts = ['Hi', 'Tell me about rivers', 'Which way does the river flow?']
    wanted = [tokenizer.decode(s[:budget], skip_special_tokens=True) for s in scripts]
    theirs = copy.deepcopy(tokenizer)
    theirs.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output = True
    got = within(30, generate_batch, model, theirs, prompts, budget, hint='one generate() call of 6 tokens should finish at once')
    assert isinstance(got, list) and len(got) == len(prompts) and all((isinstance(g, str) for g in got)), 'return a list with one string per prompt'
    if got == wanted:
        return
    if any((tokenizer.eos_token in g for g in got)):
        hint = 'two rows end early here, with the end-of-sequence token, and generate() pads a finished row after it: decode with skip_special_tokens=True so that none of that reaches the text'
    elif any((len(g) > len(w) and g.startswith(w) for g, w in zip(got[:2], wanted[:2]))) or got[1]:
        hint = 'a row whose model ended it early (end-of-sequence token) went on: max_new_tokens is an upper bound, not a length to force (no min_new_tokens); let generate() stop each row at its own end'
    elif got[0] == theirs.clean_up_tokenization(wanted[0]):
        hint = 'the space before the punctuation was removed: decode without clean_up_tokenization_spaces (transformers 5.23 ignores it for this tokenizer, 5.5 and WordPiece tokenizers apply it)'
    elif [g.strip() for g in got] == [w.strip() for w in wanted]:
        hint = 'do not strip the replies: return the decoded new text as it is'
    else:
        hint = "decode each row's new ids, after the padded prompt, with skip_special_tokens=True and no other option"
    raise AssertionError(f'with rows that end at different steps the replies are not right: {hint}')

@test_case(points=None, hidden=True)
def test_other_tokenizers_and_budgets(generate_batch, tokenizer):
    import copy
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within
    torch.manual_seed(2)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    for prompts, budget in [(['A', 'A longer prompt than the first one'], 1), (['Only one prompt'], 3)]:
        reference = copy.deepcopy(tokenizer)
        batch = reference(prompts, return_tensors='pt', padding=True, padding_side='left')
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=budget, do_sample=False, pad_token_id=reference.pad_token_id)
        wanted = reference.batch_decode(out[:, batch['input_ids'].shape[1]:], skip_special_tokens=True)
        theirs = copy.deepcopy(tokenizer)
        theirs.padding_side = 'left'
        got = within(30, generate_batch, model, theirs, prompts, budget, hint='generate_batch did not return')
        assert theirs.padding_side == 'left' and theirs.pad_token == tokenizer.pad_token, 'generate_batch changed a tokenizer that was already set up for batching: leave it as it is'
        assert got == wanted, f'with {len(prompts)} prompt(s) and max_new_tokens={budget}, the replies are not the greedy continuations: generate exactly max_new_tokens at most, greedily, and decode only the new ids'

