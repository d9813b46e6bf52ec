# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "batching_worker"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_left_padded_batch(BatchingWorker):
    from concurrent.futures import Future
    from course_utils.exercises import answered, within
    from course_utils.models import load_tokenizer, tiny_model_path
    import threading
    import time
    import torch
    from transformers import GenerationConfig

    class FakeLM:
        """Greedy, deterministic and instant (unless given a delay); each row's reply depends only
        on the text it holds; ends a row early at eos where ``stop_after`` says, and fills it with
        the pad token after that, as generate() does; honours min_new_tokens; records every
        generate() call and how many ran at once. Samples by default, as many models'
        generation_config do."""

        def __init__(self, tokenizer, device='cpu', stop_after=None, delay=0.0):
            self.tokenizer, self.device, self.calls = (tokenizer, torch.device(device), [])
            self.generation_config = GenerationConfig(do_sample=True, temperature=0.6, eos_token_id=2, pad_token_id=tokenizer.pad_token_id)
            self.stop_after, self.delay = (stop_after or {}, delay)
            self.running, self.peak, self.count_lock = (0, 0, threading.Lock())

        def reply(self, text, n, at_least=0):
            seed = sum(map(ord, text))
            stop = max(self.stop_after.get(text, n), at_least)
            return [3 + (seed * 31 + k * 17) % 997 for k in range(min(n, stop))]

        def generate(self, *args, **kwargs):
            with self.count_lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                time.sleep(self.delay)
                return self._generate(*args, **kwargs)
            finally:
                with self.count_lock:
                    self.running -= 1

        def _generate(self, inputs=None, input_ids=None, attention_mask=None, generation_config=None, **kwargs):
            ids = input_ids if input_ids is not None else inputs
            config = generation_config or self.generation_config
            mask_device = self.device if attention_mask is None else attention_mask.device
            if ids.device != self.device or mask_device != self.device:
                raise RuntimeError(f'Expected all tensors to be on the same device, but found at least two devices, {self.device} and {ids.device}!')
            width = ids.shape[1]
            n = kwargs.get('max_new_tokens', config.max_new_tokens)
            n = max(0, n if n is not None else kwargs.get('max_length', config.max_length) - width)
            at_least = kwargs.get('min_new_tokens', config.min_new_tokens) or 0
            call = {'batch': ids.shape[0], 'max_new_tokens': n, 'time': time.monotonic(), 'do_sample': kwargs.get('do_sample', config.do_sample), 'padding': 'none', 'min_new_tokens': at_least}
            self.calls.append(call)
            if self.device.type == 'meta':
                return torch.full((ids.shape[0], width + n), 5)
            mask = attention_mask.tolist() if attention_mask is not None else None
            if mask is not None:
                sides = {'left' if m == sorted(m) else 'right' if m == sorted(m, reverse=True) else 'odd' for m in mask if 0 in m}
                call['padding'] = sides.pop() if len(sides) == 1 else 'left' if not sides else 'odd'
            starts = [m.index(1) for m in mask] if mask is not None else [0] * len(ids)
            texts = [self.tokenizer.decode(row[start:]) for row, start in zip(ids.tolist(), starts)]
            call['texts'] = texts
            if any(('BOOM' in text for text in texts)):
                raise ValueError('the model cannot continue this prompt')
            eos, pad = (2, kwargs.get('pad_token_id', config.pad_token_id))
            pad = 2 if pad is None else pad
            rows = [self.reply(text, n, at_least) for text in texts]
            rows = [row + [eos] if len(row) < n else row for row in rows]
            length = max((len(row) for row in rows))
            new = torch.tensor([row + [pad] * (length - len(row)) for row in rows], dtype=torch.long)
            return torch.cat([ids, new], dim=1)
    assert answered(BatchingWorker.__init__), 'write BatchingWorker first: its __init__ is still `...`'
    tokenizer = load_tokenizer(tiny_model_path())
    model = FakeLM(tokenizer, stop_after={'Name a colour.': 2})
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=4, max_wait=2.0, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    asks = [('Tell me a story about a cat.', 6), ('Hi', 3), ('Name a colour.', 7), ('Why is the sky blue?', 4)]
    futures = [within(2, worker.submit, prompt, budget, hint='submit() must only queue the request') for prompt, budget in asks]
    assert all((isinstance(f, Future) for f in futures)), 'submit() must return a concurrent.futures.Future (the worker sets its result later)'
    replies = within(10, lambda: [f.result() for f in futures], hint='a request never got its result: does the worker call future.set_result() for every request of the batch (and does its thread survive)?')
    assert model.calls, 'the worker never called model.generate()'
    assert [c['batch'] for c in model.calls] == [4], f"4 requests arrived together and max_batch_size is 4: they belong in one generate() call; your worker made calls of sizes {[c['batch'] for c in model.calls]}"
    call = model.calls[0]
    assert call['padding'] != 'none', 'pass the attention_mask to generate(), so the model knows which tokens are padding'
    assert call['padding'] == 'left', 'pad on the left: generate() appends new tokens after the last column, so every prompt must end there'
    assert call['do_sample'] is False, "generate greedily (do_sample=False): this model's generation_config samples by default, as many do"
    assert call['max_new_tokens'] == max((b for _, b in asks)), f"call generate() with max_new_tokens = the largest budget in the batch (then every row has enough tokens); you asked for {call['max_new_tokens']}"
    assert not call['min_new_tokens'], 'do not force a length (min_new_tokens): a request gets up to its max_new_tokens, fewer when the model ends its reply with eos'
    for (prompt, budget), reply in zip(asks, replies):
        assert isinstance(reply, list) and all((isinstance(t, int) for t in reply)), "a future's result is the list of new token ids (ints), e.g. row.tolist()"
        right = model.reply(prompt, budget)
        assert reply in (right, right + [2]), f'the request {prompt!r} got the wrong tokens: give each request the new tokens of its own row (no prompt), cut at its own max_new_tokens and at its first eos (generate() pads rows that ended)'
    assert tokenizer.padding_side == 'right', "leave the shared tokenizer as it is: pass padding_side='left' to the tokenizer call (or pad by hand) instead of setting tokenizer.padding_side"

