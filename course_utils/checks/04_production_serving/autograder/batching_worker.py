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

@test_case(points=None, hidden=True)
def test_arrival_order_and_batch_limit(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path())
    model = FakeLM(tokenizer)
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=3, max_wait=0.3, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    prompts = [f'Request number {i} of seven.' + ' more' * i for i in range(7)]
    futures = [worker.submit(prompt, 3 + i % 3) for i, prompt in enumerate(prompts)]
    replies = within(10, lambda: [f.result() for f in futures], hint='some requests never got a result: does the worker loop forever, taking batch after batch, and start a batch that is not full once max_wait (in seconds) has passed?')
    sizes = [c['batch'] for c in model.calls]
    assert max(sizes) <= 3, f'max_batch_size is 3: never generate for more; your batches: {sizes}'
    assert sizes == [3, 3, 1], f'7 requests queued at once with max_batch_size 3 make batches of 3, 3 and 1; yours: {sizes}. Fill each batch from the queue before waiting'
    assert [sorted(c['texts']) for c in model.calls[:2]] == [sorted(prompts[:3]), sorted(prompts[3:6])], 'serve requests in arrival order: the first batch holds the first three requests, and so on'
    for i, (prompt, reply) in enumerate(zip(prompts, replies)):
        right = model.reply(prompt, 3 + i % 3)
        assert reply in (right, right + [2]), f"request {i} got another request's tokens or a wrong length: keep rows and futures in the same order"

@test_case(points=None, hidden=True)
def test_budgets_and_eos(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path())
    asks = [('One.', 1), ('Count to ten slowly, please.', 9), ('Stop at five.', 5), ('A long one.', 12), ('Ends early.', 8)]
    model = FakeLM(tokenizer, stop_after={'Count to ten slowly, please.': 4, 'Stop at five.': 5, 'Ends early.': 0})
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=5, max_wait=0.3, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    futures = [worker.submit(prompt, budget) for prompt, budget in asks]
    replies = within(10, lambda: [f.result() for f in futures], hint='a request never got its result: does the worker set every future?')
    assert [c['max_new_tokens'] for c in model.calls] == [12], 'one generate() call for the batch, with max_new_tokens = its largest budget'
    for (prompt, budget), reply in zip(asks, replies):
        right = model.reply(prompt, budget)
        assert len(reply) <= budget, f'the request {prompt!r} asked for at most {budget} new tokens and got {len(reply)}'
        assert reply in (right, right + [2]), f"the request {prompt!r} got the wrong tokens: its row's new tokens, up to its own budget, ending at its first eos (an eos as the very first token means an empty reply)"

@test_case(points=None, hidden=True)
def test_max_wait(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path())
    model = FakeLM(tokenizer)
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=8, max_wait=1.5, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    start = time.monotonic()
    first = worker.submit('First comes first.', 2)
    time.sleep(0.6)
    second = worker.submit('Second, soon after.', 2)
    time.sleep(max(0.0, 1.9 - (time.monotonic() - start)))
    third = worker.submit('Third, too late.', 2)
    within(10, lambda: [f.result() for f in (first, second, third)], hint='a request never got its result: max_wait is in seconds (1.5 here)')
    batches = [sorted(c['texts']) for c in model.calls]
    assert batches and 'Second, soon after.' in batches[0], 'wait for more requests: one that arrives 0.6 s after the first, with max_wait 1.5 s, joins its batch'
    assert 'Third, too late.' not in batches[0], "max_wait counts from the batch's first request: a request 1.9 s after it (max_wait 1.5 s) goes to the next batch. (queue.get(timeout=max_wait) in a loop restarts the wait at every arrival: compute one deadline per batch)"
    waited = model.calls[0]['time'] - start
    assert waited < 1.5 + 0.6, f'the batch started {waited:.2f} s after its first request; max_wait is 1.5 s'
    full = within(3, BatchingWorker, model, tokenizer, max_batch_size=2, max_wait=3.0, hint='BatchingWorker(...) must return at once')
    model.calls.clear()
    start = time.monotonic()
    pair = [full.submit('Full batch, one.', 2), full.submit('Full batch, two.', 2)]
    within(10, lambda: [f.result() for f in pair], hint='a full batch never ran')
    assert model.calls[0]['time'] - start < 1.5, 'a full batch (max_batch_size requests) starts at once: max_wait is only for filling a batch'
    alone = within(3, BatchingWorker, model, tokenizer, max_batch_size=8, max_wait=0.2, hint='BatchingWorker(...) must return at once')
    model.calls.clear()
    start = time.monotonic()
    within(5, alone.submit('Just me.', 2).result, hint='a lone request must run after max_wait (0.2 s here), even if the batch is not full')
    waited = model.calls[0]['time'] - start
    assert waited < 0.2 + 0.6, f'a lone request waited {waited:.2f} s with max_wait 0.2 s: stop waiting when max_wait has passed'

@test_case(points=None, hidden=True)
def test_a_failing_request_fails_alone(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path())
    model = FakeLM(tokenizer)
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=4, max_wait=0.3, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    asks = [('All fine here.', 3), ('BOOM goes this one.', 3), ('Fine as well.', 4), ('And me.', 2)]
    futures = [worker.submit(prompt, budget) for prompt, budget in asks]
    within(10, lambda: [f.exception() for f in futures], hint='after generate() raised, some requests never got an answer: catch the error in the worker, give the failing request its exception, and serve the others')
    assert futures[1].exception() is not None, 'the request whose generation fails must raise: future.set_exception(the error generate() raised)'
    for i in (0, 2, 3):
        assert futures[i].exception() is None, 'one failing request must not fail the others: when generate() raises for a batch, retry its requests (alone, for example) and fail only the one that still fails'
        right = model.reply(*asks[i])
        assert futures[i].result() in (right, right + [2]), f'after the failure, the request {asks[i][0]!r} got the wrong tokens'
    later = worker.submit('Still alive?', 2)
    within(5, later.result, hint='after a failure the worker must keep serving: did its thread die?')

@test_case(points=None, hidden=True)
def test_inputs_on_model_device(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path())
    on_meta = FakeLM(tokenizer, device='meta')
    meta_worker = within(3, BatchingWorker, on_meta, tokenizer, max_batch_size=2, max_wait=0.2, hint='BatchingWorker(...) must return at once')
    pair = [meta_worker.submit('On another device.', 2), meta_worker.submit('Me too.', 2)]
    errors = within(10, lambda: [f.exception() for f in pair], hint="with the model on another device (PyTorch's meta device here) the requests never got an answer: put the inputs on model.device, and catch generate()'s errors")
    assert not any(errors), "put the inputs on model.device (tokenizer(...).to(model.device)): with the model on a GPU, CPU tensors fail (this check puts the model on PyTorch's meta device)"

@test_case(points=None, hidden=True)
def test_rows_that_all_end_early(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path(), pad_token='<|endoftext|>')
    asks = [('Short reply, please.', 9), ('Two words.', 6), ('Nothing at all.', 5), ('Four tokens here.', 8)]
    model = FakeLM(tokenizer, stop_after={'Short reply, please.': 3, 'Two words.': 2, 'Nothing at all.': 0, 'Four tokens here.': 4})
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=4, max_wait=0.3, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    futures = [worker.submit(prompt, budget) for prompt, budget in asks]
    replies = within(10, lambda: [f.result() for f in futures], hint='a request never got its result: does the worker set every future?')
    assert [c['batch'] for c in model.calls] == [4], '4 requests arrived together and max_batch_size is 4: one generate() call'
    for (prompt, budget), reply in zip(asks, replies):
        right = model.reply(prompt, budget)
        if reply[:len(right)] == right:
            assert reply in (right, right + [2]), f'the request {prompt!r} got tokens after its end: generate() fills a row that has ended with pad_token_id, which is not always the eos (here it is not). Cut each row at its first eos (tokenizer.eos_token_id)'
        else:
            raise AssertionError(f"the request {prompt!r} got the wrong tokens when every row of its batch ended before the largest budget: generate() returns fewer new columns than max_new_tokens then. Take the new tokens after the prompt's padded width (input_ids.shape[1]), not the last max_new_tokens columns")

@test_case(points=None, hidden=True)
def test_a_burst_from_many_threads(BatchingWorker):
    from course_utils.exercises import within
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
    tokenizer = load_tokenizer(tiny_model_path())
    prompts = [f'Burst request {i}.' + ' more' * (i % 5) for i in range(12)]
    budgets = [2 + i % 4 for i in range(12)]
    model = FakeLM(tokenizer, delay=0.15, stop_after={prompts[3]: 1, prompts[8]: 0})
    worker = within(3, BatchingWorker, model, tokenizer, max_batch_size=4, max_wait=0.2, hint='BatchingWorker(...) must return at once: start the loop in a daemon thread')
    gate, futures = (threading.Barrier(12), {})

    def send(i):
        gate.wait(5)
        futures[i] = worker.submit(prompts[i], budgets[i])
    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(futures) == 12, 'submit() did not return in every thread: it must only queue the request'
    replies = within(10, lambda: [futures[i].result() for i in range(12)], hint='12 requests submitted at once from 12 threads: some never got a result. Does the worker take every request from the queue, batch after batch?')
    sizes = [c['batch'] for c in model.calls]
    assert model.peak == 1, f"{model.peak} generate() calls ran at once during a burst of requests: run one batch at a time, in the worker's own thread (one model on one device: a second generate() only competes with the first, and a tokenizer or model shared by threads at once can fail)"
    assert max(sizes) <= 4 and sum(sizes) == 12, f'12 requests with max_batch_size 4: batches of at most 4, each request once; yours: {sizes}'
    for i, reply in enumerate(replies):
        right = model.reply(prompts[i], budgets[i])
        assert reply in (right, right + [2]), f"in a burst from many threads, request {i} got another request's tokens or a wrong length: keep each request's prompt, budget and future together"

