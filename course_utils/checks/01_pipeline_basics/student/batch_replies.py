# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "batch_replies"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_replies_from_made_up_outputs(replies):
    from course_utils.exercises import answered, within
    assert answered(replies), 'write replies(outputs) first'
    conversations = [[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello.'}, {'role': 'user', 'content': 'And now?'}, {'role': 'assistant', 'content': 'Now I answer again.'}], [{'role': 'user', 'content': '2 + 2?'}, {'role': 'assistant', 'content': 'Four.'}], [{'role': 'user', 'content': 'Bye'}, {'role': 'assistant', 'content': 'Goodbye!'}]]
    wanted = [c[-1]['content'] for c in conversations]
    others = ['Another sample.', 'A second answer.', 'Farewell!']
    seconds = [c[:-1] + [{'role': 'assistant', 'content': o}] for c, o in zip(conversations, others)]
    shapes = {'the default output (whole conversations)': [[{'generated_text': c}] for c in conversations], 'return_full_text=False': [[{'generated_text': w}] for w in wanted], 'num_return_sequences=2': [[{'generated_text': c}, {'generated_text': s}] for c, s in zip(conversations, seconds)], 'num_return_sequences=2 and return_full_text=False': [[{'generated_text': w}, {'generated_text': o}] for w, o in zip(wanted, others)]}
    for shape, outputs in shapes.items():
        try:
            got = within(10, replies, outputs, hint='replies should return at once')
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f'with {shape} your replies() raised {type(err).__name__}: outputs holds one list per conversation (outputs[i][0] is its first sequence); print outputs to see its shape') from None
        several = len(outputs[0]) > 1
        if several and isinstance(got, list) and (len(got) == 2 * len(outputs)):
            raise AssertionError(f'with {shape} you returned one reply per sequence: return one per conversation, from the first sequence of each result (result[0])')
        assert isinstance(got, list) and len(got) == len(outputs), f'with {shape}, return a list with one reply per conversation ({len(outputs)} here)'
        assert all((isinstance(g, str) for g in got)), f"with {shape}, each reply should be a string (the message's content), got {[type(g).__name__ for g in got]}"
        if got != wanted:
            hint = 'each result holds one entry per generated sequence: take the first (result[0]), not the last' if several and got == others else 'with return_full_text=False, generated_text is already the reply, a string' if isinstance(outputs[0][0]['generated_text'], str) else 'the reply is the content of the last message of each conversation'
            raise AssertionError(f"with {shape} the replies are not the assistant's new replies, in order: {hint}")

@test_case(points=None, hidden=False)
def test_replies_from_a_real_pipeline(replies, tokenizer):
    import copy
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, pipeline
    from course_utils.exercises import within
    torch.manual_seed(0)
    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)).eval()
    pipe = pipeline('text-generation', model=tiny, tokenizer=copy.deepcopy(tokenizer), device='cpu')
    conversations = [[{'role': 'user', 'content': 'Hi'}], [{'role': 'user', 'content': 'Name a colour.'}]]
    for full, n in ((True, 1), (False, 1), (True, 2)):
        torch.manual_seed(0)
        outputs = pipe(conversations, max_new_tokens=4, do_sample=n > 1, num_return_sequences=n, return_full_text=full)
        wanted = [o[0]['generated_text'][-1]['content'] if full else o[0]['generated_text'] for o in outputs]
        try:
            got = within(10, replies, outputs, hint='replies should return at once')
        except Exception as err:
            raise AssertionError(f'on a real pipeline output (return_full_text={full}, num_return_sequences={n}) your replies() raised {type(err).__name__}: print the output to see its shape') from None
        assert got == wanted, f"on a real pipeline output (return_full_text={full}, num_return_sequences={n}) the replies are not the assistant's new replies, one string per conversation (its first sequence), in order"

