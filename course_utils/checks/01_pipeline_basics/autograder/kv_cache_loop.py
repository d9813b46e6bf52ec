# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "kv_cache_loop"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_same_tokens_as_generate(greedy_with_cache, tokenizer):
    import inspect
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import CheckTimedOut, answered, within
    assert answered(greedy_with_cache), 'write greedy_with_cache(model, tokenizer, text, max_new_tokens) first'
    if getattr(greedy_with_cache, '_check_timed_out', False):
        raise AssertionError('skipped: greedy_with_cache did not finish in an earlier check (an endless loop?)')

    class Tiny(LlamaForCausalLM):
        prompt_len, eos_step = (0, None)

        def forward(self, *args, **kwargs):
            bound = inspect.signature(LlamaForCausalLM.forward).bind(self, *args, **kwargs).arguments
            ids, cache = (bound.get('input_ids'), bound.get('past_key_values'))
            fed = ids.shape[1] if ids is not None else bound['inputs_embeds'].shape[1]
            cached = cache.get_seq_length() if cache is not None else 0
            out = super().forward(*args, **kwargs)
            if self.eos_step is not None and cached + fed == self.prompt_len + self.eos_step - 1:
                out.logits[:, -1, self.config.eos_token_id] = out.logits[:, -1].max() + 10
            return out
    torch.manual_seed(0)
    model = Tiny(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    model.requires_grad_(False)
    real_generate = model.generate

    def forbidden(*args, **kwargs):
        raise AssertionError('do not call generate(): write the loop yourself, one model(...) call per new token')
    cases = [('The capital of France is', 6, None), ('Once upon a time', 8, 3), ('One, two,', 4, 6), ('Hello', 1, None), ('Hi there', 5, 1)]
    for text, budget, eos_step in cases:
        enc = tokenizer(text, return_tensors='pt')
        model.prompt_len, model.eos_step = (enc['input_ids'].shape[1], eos_step)
        model.generate = real_generate
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=budget, do_sample=False)
        wanted = out[0, enc['input_ids'].shape[1]:].tolist()
        model.generate = forbidden
        try:
            got = within(15, greedy_with_cache, model, tokenizer, text, budget, hint=f'with max_new_tokens={budget}: does your loop stop after max_new_tokens?')
        except CheckTimedOut:
            try:
                greedy_with_cache._check_timed_out = True
            except (AttributeError, TypeError):
                pass
            raise
        if isinstance(got, torch.Tensor):
            got = got.reshape(-1).tolist()
        assert isinstance(got, (list, tuple)) and all((isinstance(t, int) for t in got)), f'return the new token ids as a list of ints, got {type(got).__name__}'
        got, where = (list(got), f'for {text!r} with max_new_tokens={budget}')
        if got == wanted:
            continue
        prompt_ids = enc['input_ids'][0].tolist()
        ends_early = eos_step is not None and eos_step <= budget
        if got[:len(prompt_ids)] == prompt_ids and len(got) > len(prompt_ids):
            hint = "return only the new tokens, not the prompt's"
        elif ends_early and got[:len(wanted)] == wanted:
            hint = f'the model produced the end-of-sequence token as new token {eos_step}: stop right after it'
        elif ends_early and got == wanted[:-1]:
            hint = f'the model produced the end-of-sequence token as new token {eos_step}: keep it in the list, as generate() does'
        elif not ends_early and len(got) != budget:
            hint = f'you returned {len(got)} tokens: generate max_new_tokens tokens unless the end-of-sequence token comes first'
        else:
            hint = "your tokens differ from generate()'s greedy tokens: at each step take the argmax of the logits at the last position and feed that token back"
        raise AssertionError(f'{where}: {hint}')

@test_case(points=None, hidden=False)
def test_the_cache_is_used(greedy_with_cache, tokenizer):
    import inspect
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import CheckTimedOut, within
    if getattr(greedy_with_cache, '_check_timed_out', False):
        raise AssertionError('skipped: greedy_with_cache did not finish in an earlier check (an endless loop?)')
    calls = []

    class Tiny(LlamaForCausalLM):

        def forward(self, *args, **kwargs):
            bound = inspect.signature(LlamaForCausalLM.forward).bind(self, *args, **kwargs).arguments
            ids, cache = (bound.get('input_ids'), bound.get('past_key_values'))
            fed = ids.shape[1] if ids is not None else bound['inputs_embeds'].shape[1]
            calls.append((fed, cache.get_seq_length() if cache is not None else 0))
            return super().forward(*args, **kwargs)
    torch.manual_seed(0)
    model = Tiny(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    model.requires_grad_(False)

    def forbidden(*args, **kwargs):
        raise AssertionError('do not call generate(): write the loop yourself, one model(...) call per new token')
    model.generate = forbidden
    text, budget = ('A cache keeps what the model has already read', 5)
    prompt_len = len(tokenizer(text)['input_ids'])
    try:
        got = within(15, greedy_with_cache, model, tokenizer, text, budget, hint='does your loop stop after max_new_tokens?')
    except CheckTimedOut:
        try:
            greedy_with_cache._check_timed_out = True
        except (AttributeError, TypeError):
            pass
        raise
    assert calls, 'your function never called the model: call model(input_ids=..., past_key_values=...)'
    fed, cached = calls[0]
    assert fed == prompt_len and cached == 0, f'the first call should give the model the whole prompt ({prompt_len} tokens here) and no cache; it gave {fed} token(s) with {cached} position(s) in the cache'
    for number, (fed, cached) in enumerate(calls[1:], start=2):
        assert fed == 1, f"call {number} gave the model {fed} tokens: after the first call give it only the newest token, the cache holds the rest (section 2.2's loop re-reads everything; that is what the cache saves)"
        assert cached == prompt_len + number - 2, f"call {number} did not get the cache holding everything read so far: pass past_key_values= the cache from the previous call's output"
    n_new = len(got) if isinstance(got, (list, tuple)) else budget
    assert len(calls) in (n_new, n_new + 1), f'{len(calls)} calls to the model for {n_new} new tokens: one call per new token is enough'

@test_case(points=None, hidden=False)
def test_inputs_on_the_model_device(greedy_with_cache, tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within

    class Reached(BaseException):
        pass
    if getattr(greedy_with_cache, '_check_timed_out', False):
        raise AssertionError('skipped: greedy_with_cache did not finish in an earlier check (an endless loop?)')
    with torch.device('meta'):
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)).eval()
    seen = []

    def forward(*args, **kwargs):
        ids = kwargs.get('input_ids', args[0] if args else None)
        seen.append(getattr(getattr(ids, 'device', None), 'type', None))
        raise Reached()
    model.forward = forward
    try:
        within(15, greedy_with_cache, model, tokenizer, 'The sky is', 3, hint='your function did not return')
    except Reached:
        pass
    except Exception as err:
        if 'device' in str(err).lower() or 'meta' in str(err).lower():
            raise AssertionError(f'with the model on another device your function failed ({type(err).__name__}): move the ids with .to(model.device)') from None
        raise
    assert seen, 'your function never called the model'
    assert seen[0] == 'meta', f"the model was on the 'meta' device but your ids were on {seen[0]}: move them with .to(model.device) (on a GPU the model is on 'cuda' and CPU ids fail)"

@test_case(points=None, hidden=True)
def test_a_chat_prompt_and_a_late_end(greedy_with_cache, tokenizer):
    import inspect
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within
    if getattr(greedy_with_cache, '_check_timed_out', False):
        raise AssertionError('skipped: greedy_with_cache did not finish in an earlier check (an endless loop?)')

    class Tiny(LlamaForCausalLM):
        prompt_len, eos_step = (0, None)

        def forward(self, *args, **kwargs):
            bound = inspect.signature(LlamaForCausalLM.forward).bind(self, *args, **kwargs).arguments
            ids, cache = (bound.get('input_ids'), bound.get('past_key_values'))
            fed = ids.shape[1] if ids is not None else bound['inputs_embeds'].shape[1]
            cached = cache.get_seq_length() if cache is not None else 0
            out = super().forward(*args, **kwargs)
            if self.eos_step is not None and cached + fed == self.prompt_len + self.eos_step - 1:
                out.logits[:, -1, self.config.eos_token_id] = out.logits[:, -1].max() + 10
            return out
    torch.manual_seed(3)
    model = Tiny(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    model.requires_grad_(False)
    text = tokenizer.apply_chat_template([{'role': 'user', 'content': 'Count to five.'}], tokenize=False, add_generation_prompt=True)
    enc = tokenizer(text, return_tensors='pt')
    model.prompt_len, model.eos_step = (enc['input_ids'].shape[1], 9)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    wanted = out[0, enc['input_ids'].shape[1]:].tolist()
    got = within(15, greedy_with_cache, model, tokenizer, text, 12, hint='does your loop stop?')
    if isinstance(got, torch.Tensor):
        got = got.reshape(-1).tolist()
    assert list(got) == wanted, "on a chat-formatted prompt whose reply ends with the end-of-sequence token at step 9, your tokens differ from generate()'s: tokenize the text as it is, and stop right after that token"

