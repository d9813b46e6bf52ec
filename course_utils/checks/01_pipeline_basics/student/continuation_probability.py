# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "continuation_probability"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_scores_like_the_model(continuation_probability, tokenizer):
    import math
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import answered, within
    assert answered(continuation_probability), 'write continuation_probability(...) first'
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    model.requires_grad_(False)
    real_forward = model.forward
    calls = {'forward': 0, 'generate': 0}

    def counting_forward(*args, **kwargs):
        calls['forward'] += 1
        return real_forward(*args, **kwargs)

    def no_generate(*args, **kwargs):
        calls['generate'] += 1
        raise AssertionError('do not call generate(): run one forward pass, model(...), and read its logits')
    model.forward, model.generate = (counting_forward, no_generate)
    cases = [('The capital of France is', ' Paris'), ('One, two,', ' three, four, five'), ('Hello wor', 'ld')]
    joined_hint = "; tokenizing the joined string gives other tokens here: append the continuation's own ids, tokenizer(continuation, add_special_tokens=False)['input_ids']"
    for text, continuation in cases:
        calls.update(forward=0, generate=0)
        text_ids = tokenizer(text)['input_ids']
        new_ids = tokenizer(continuation, add_special_tokens=False)['input_ids']
        joined_differs = tokenizer(text + continuation)['input_ids'] != text_ids + new_ids
        try:
            got = within(20, continuation_probability, model, tokenizer, text, continuation, hint='one forward pass should return at once: is there an endless loop?')
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f'for {text!r} + {continuation!r} your function raised {type(err).__name__}: {str(err)[:150]}' + (joined_hint if joined_differs else '')) from None
        assert calls['generate'] == 0, 'do not call generate(): run one forward pass and read its logits'
        assert calls['forward'] == 1, f"for {text!r} + {continuation!r} your function called the model {calls['forward']} times: one forward pass over the text and the continuation scores every position at once"
        try:
            got = float(got)
        except (TypeError, ValueError, RuntimeError):
            raise AssertionError(f'return one number (a Python float), got {type(got).__name__}') from None
        with torch.no_grad():
            logits = real_forward(input_ids=torch.tensor([text_ids + new_ids])).logits
        log_probs = logits[0].float().log_softmax(-1)
        n = len(text_ids)
        expected = math.exp(sum((log_probs[n - 1 + i, t].item() for i, t in enumerate(new_ids))))
        if math.isclose(got, expected, rel_tol=0.002):
            continue
        shifted = math.exp(sum((log_probs[n + i, t].item() for i, t in enumerate(new_ids))))
        first_only = math.exp(log_probs[n - 1, new_ids[0]].item())
        if not 0 <= got <= 1:
            hint = 'a probability lies between 0 and 1: did you return a log-probability (take the exponential of the sum) or use raw logits (apply log_softmax first)?'
        elif len(new_ids) > 1 and math.isclose(got, first_only, rel_tol=0.002):
            hint = "you scored only the continuation's first token: multiply the probabilities of all its tokens"
        elif math.isclose(got, shifted, rel_tol=0.002):
            hint = "check which position you read: the scores at position i rank the token at i + 1, so the continuation's first token is scored at the text's last position"
        elif joined_differs:
            hint = joined_hint.lstrip('; ')
        else:
            hint = "take log_softmax over the vocabulary (the last dimension), read each continuation token's log-probability at the position before it, sum them, then exp"
        raise AssertionError(f"for {text!r} + {continuation!r} your probability is not the model's: {hint}")

@test_case(points=None, hidden=False)
def test_inputs_on_the_model_device(continuation_probability, tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from course_utils.exercises import within

    class Reached(BaseException):
        pass
    with torch.device('meta'):
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)).eval()
    seen = []

    def forward(*args, **kwargs):
        ids = kwargs.get('input_ids', args[0] if args else None)
        seen.append(getattr(getattr(ids, 'device', None), 'type', None))
        raise Reached()
    model.forward = forward
    try:
        within(20, continuation_probability, model, tokenizer, 'The sky is', ' blue', hint='your function did not return')
    except Reached:
        pass
    except Exception as err:
        if 'device' in str(err).lower() or 'meta' in str(err).lower():
            raise AssertionError(f'with the model on another device your function failed ({type(err).__name__}): create or move the ids with .to(model.device)') from None
        raise
    assert seen, 'your function never called the model: run one forward pass, model(input_ids=...)'
    assert seen[0] == 'meta', f"the model was on the 'meta' device but your ids were on {seen[0]}: move them with .to(model.device) (on a GPU the model is on 'cuda' and CPU ids fail)"

