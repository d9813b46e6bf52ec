"""Lesson 04's checks (three predictions, five exercises) against wrong and right answers.

Each question's full test file (public and hidden cases, as the grader runs it) is run directly
against answers written as source code: wrong but plausible answers, each caught with the message
it must get, and valid answers written differently from the solution. Most answers are the
solutions notebook's own cell with one line changed, so the tests follow the lesson when it
changes. Answers that would hang (a worker loop run in ``__init__``, a future nobody sets) must be
reported within the check's time limit.
"""

import ast
import time
from pathlib import Path

import nbformat
import pytest
from exercise_harness import failure_text, run_check, timeouts_scaled, with_answer

LESSON = "04_production_serving"
SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / f"{LESSON}.ipynb"
PRELUDE = """import queue, threading, time
from concurrent.futures import Future
import torch
from openai import OpenAI
"""


def solution(name: str) -> str:
    """The solutions notebook's cell that defines ``name``."""
    for cell in nbformat.read(SOLUTIONS, as_version=4).cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                        if isinstance(t, ast.Name)}
            if name in defined:
                return cell.source
    raise AssertionError(f"no cell of {SOLUTIONS.name} defines {name}")


def changed(name: str, *edits: tuple[str, str]) -> str:
    """The solution of ``name`` with each ``(old, new)`` edit applied (each ``old`` must occur)."""
    source = solution(name)
    for old, new in edits:
        assert old in source, f"the solution of {name} no longer contains {old!r}: update this test"
        source = source.replace(old, new)
    return source


def check(question: str, source: str, *, include_hidden: bool = True):
    return run_check(LESSON, question, with_answer({}, PRELUDE + source), include_hidden=include_hidden)


def assert_caught(question: str, source: str, message: str, **kwargs) -> str:
    result = check(question, source, **kwargs)
    text = failure_text(result)
    assert not result.passed, f"a wrong answer passed {question}"
    assert message in text, f"expected a message with {message!r}, got:\n{text}"
    return text


def assert_accepted(question: str, source: str) -> None:
    result = check(question, source)
    assert result.passed, f"a valid answer failed {question}:\n{failure_text(result)}"


# (the predictions: tests/test_predictions.py, the same for every lesson)


# ------------------------------------------------------------------ exercise 1: the batching worker
QUEUE_GET = "batch.append(self.requests.get(timeout=max(0.0, deadline - time.monotonic())))"
WRONG_WORKERS = {
    "does not wait for more requests": (
        [(QUEUE_GET, "batch.append(self.requests.get_nowait())")], "wait for more requests"),
    "restarts max_wait at every arrival": (
        [(QUEUE_GET, "batch.append(self.requests.get(timeout=self.max_wait))")],
        "max_wait counts from the batch's first request"),
    "sleeps max_wait even when the batch is full": (
        [("deadline = time.monotonic() + self.max_wait",
          "time.sleep(self.max_wait); deadline = time.monotonic()")],
        "a full batch (max_batch_size requests) starts at once"),
    "one request per generate()": (
        [("while len(batch) < self.max_batch_size:", "while len(batch) < 1:")],
        "they belong in one generate() call"),
    "pads on the right": ([('padding_side="left"', 'padding_side="right"')], "pad on the left"),
    "changes the shared tokenizer": (
        [('padding=True, padding_side="left")', "padding=True)"),
         ("inputs = self.tokenizer(",
          "self.tokenizer.padding_side = 'left'\n        inputs = self.tokenizer(")],
        "leave the shared tokenizer as it is"),
    "no attention mask": (
        [("out = self.model.generate(**inputs,", "out = self.model.generate(inputs['input_ids'],")],
        "pass the attention_mask"),
    "samples": ([("do_sample=False,", "")], "generate greedily (do_sample=False)"),
    "the first request's budget for all": (
        [("max_new_tokens=max(budget for _, budget, _ in batch)", "max_new_tokens=batch[0][1]")],
        "max_new_tokens = the largest budget in the batch"),
    "a fixed budget of 64": (
        [("max_new_tokens=max(budget for _, budget, _ in batch)", "max_new_tokens=64")],
        "max_new_tokens = the largest budget in the batch"),
    "not cut at its budget": ([("row = row[:budget]", "pass")], "cut at its own max_new_tokens"),
    "not cut at its eos": (
        [("replies.append(row[:row.index(eos)] if eos in row else row)", "replies.append(row)")],
        "at its first eos"),
    "the prompt in the reply": (
        [('out[:, inputs["input_ids"].shape[1]:].tolist()', "out.tolist()")],
        "the new tokens of its own row"),
    "a tensor, not a list": (
        [("replies.append(row[:row.index(eos)] if eos in row else row)",
          "replies.append(torch.tensor(row[:row.index(eos)] if eos in row else row))")],
        "the list of new token ids (ints)"),
    "last in, first out": ([("self.requests = queue.Queue()", "self.requests = queue.LifoQueue()")],
                           "serve requests in arrival order"),
    "one error fails the whole batch": (
        [("""            if len(batch) == 1:
                batch[0][2].set_exception(err)
            else:  # find the request that fails: each alone
                for request in batch:
                    self._serve([request])""", """            for _, _, future in batch:
                future.set_exception(err)""")],
        "one failing request must not fail the others"),
    "inputs left on the CPU": ([(".to(self.model.device)", "")], "put the inputs on model.device"),
    # false pass "a model that never emits EOS": lesson 03's `min_new_tokens` copied, so every row
    # runs to the largest budget ("exactly N" where the text says "up to N")
    "forces every reply to the full length (min_new_tokens)": (
        [("do_sample=False,", "do_sample=False, min_new_tokens=max(budget for _, budget, _ in batch),")],
        "do not force a length"),
    # false pass "every tested row ends at the same step": the new tokens taken as the last
    # max_new_tokens columns, right only while some row runs to the largest budget
    "the last max_new_tokens columns as the new tokens": (
        [('out[:, inputs["input_ids"].shape[1]:].tolist()',
          'out[:, -max(budget for _, budget, _ in batch):].tolist()')],
        "generate() returns fewer new columns than max_new_tokens"),
    # false pass "padding never reaches the text": trailing eos stripped instead of a cut at the
    # first eos, right only while the pad token is the eos (as SmolLM2's is)
    "strips trailing eos instead of cutting at the first": (
        [("replies.append(row[:row.index(eos)] if eos in row else row)",
          "while row and row[-1] == eos:\n                row = row[:-1]\n            replies.append(row)")],
        "which is not always the eos"),
    # false pass "a race that only shows when many waiters are released at once": a thread per
    # batch, so a burst of requests runs several generate() calls on the one model at once
    "a thread per batch": (
        [("            self._serve(batch)\n",
          "            threading.Thread(target=self._serve, args=(batch,), daemon=True).start()\n")],
        "generate() calls ran at once"),
}


@pytest.mark.parametrize("name", WRONG_WORKERS)
def test_wrong_workers_are_caught(name):
    edits, message = WRONG_WORKERS[name]
    assert_caught("batching_worker", changed("BatchingWorker", *edits), message)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_that_dies_on_an_error_is_reported_in_time():
    source = changed("BatchingWorker", ("""        try:
            replies = self._generate(batch)
        except Exception as err:""", """        replies = self._generate(batch)
        if False:"""))
    started = time.monotonic()
    with timeouts_scaled(0.2) as asked:  # waits 2 s of the learner's 10
        text = assert_caught("batching_worker", source, "catch the error in the worker")
    assert "no answer within 10 s" in text
    assert 10 in asked, asked
    # the learner's limit is in `asked`; the wall clock only catches a check that never gives up (a
    # 15 s bound flaked when four CI jobs shared two cores: 16.4 s)
    assert time.monotonic() - started < 120


def test_a_loop_run_in_init_is_reported_in_time():
    start = 'threading.Thread(target=self._loop, daemon=True, name="batching-worker").start()'
    source = changed("BatchingWorker", (start, "self._loop()"))
    started = time.monotonic()
    with timeouts_scaled(1.0) as asked:
        assert_caught("batching_worker", source, "must return at once: start the loop in a daemon thread",
                      include_hidden=False)
    assert asked and max(asked) <= 10, asked
    assert time.monotonic() - started < 120  # only a check that never gives up


def test_a_worker_that_never_answers_is_reported_in_time():
    source = changed("BatchingWorker", ("future.set_result(reply)", "pass"))
    started = time.monotonic()
    with timeouts_scaled(0.2) as asked:  # waits a fifth of the learner's limit
        assert_caught("batching_worker", source, "a request never got its result", include_hidden=False)
    assert asked and max(asked) <= 30, asked
    assert time.monotonic() - started < 120  # only a check that never gives up


def test_an_unsolved_worker_says_so():
    skeleton = '''
class BatchingWorker:
    def __init__(self, model, tokenizer, max_batch_size=8, max_wait=0.05):
        ...

    def submit(self, prompt, max_new_tokens):
        """Queue one request."""
        ...
'''
    assert_caught("batching_worker", skeleton, "write `BatchingWorker` first", include_hidden=False)


VALID_WORKER = '''
class BatchingWorker:
    """Another design: a Condition over a deque, padding by hand, eos kept, bisection on errors."""

    def __init__(self, model, tokenizer, max_batch_size=8, max_wait=0.05):
        import collections
        self.model, self.tokenizer, self.size, self.wait = model, tokenizer, max_batch_size, max_wait
        self.pending, self.ready = collections.deque(), threading.Condition()
        threading.Thread(target=self.loop, daemon=True).start()

    def submit(self, prompt, max_new_tokens):
        future = Future()
        with self.ready:
            self.pending.append((prompt, max_new_tokens, future))
            self.ready.notify()
        return future

    def take(self):
        with self.ready:
            self.ready.wait_for(lambda: self.pending)
            deadline = time.monotonic() + self.wait
            while len(self.pending) < self.size and self.ready.wait(max(0.0, deadline - time.monotonic())):
                pass
            return [self.pending.popleft() for _ in range(min(self.size, len(self.pending)))]

    def loop(self):
        while True:
            self.run(self.take())

    def run(self, batch):
        try:
            ids = [self.tokenizer(prompt)["input_ids"] for prompt, _, _ in batch]
            width = max(map(len, ids))
            pad = self.tokenizer.pad_token_id
            device = self.model.device
            input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in ids], device=device)
            mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in ids], device=device)
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, do_sample=False,
                                      max_length=width + max(n for _, n, _ in batch))
        except Exception as err:
            if len(batch) == 1:
                batch[0][2].set_exception(err)
            else:
                half = len(batch) // 2
                self.run(batch[:half])
                self.run(batch[half:])
            return
        eos = self.model.generation_config.eos_token_id
        for row, (_, n, future) in zip(out[:, width:].tolist(), batch):
            row = row[:n]
            future.set_result(row[:row.index(eos) + 1] if eos in row else row)
'''


def test_valid_workers_are_accepted():
    assert_accepted("batching_worker", solution("BatchingWorker"))
    assert_accepted("batching_worker", VALID_WORKER)


# ------------------------------------------------------------------ exercise 2: the openai client
def ask_with(*edits):
    return changed("ask", *edits)


MESSAGES = 'messages=[{"role": "user", "content": question}]'


@pytest.mark.parametrize("edits, message", [
    ([(MESSAGES, 'messages=[{"role": "user", "content": "What is the capital of France?"}]')],
     "send the `question` argument itself"),
    ([(MESSAGES, 'messages=[{"role": "user", "content": "Which river flows through Lyon?"}]')],
     "send each question exactly as given"),  # the visible check's question, copied: the hidden one differs
    ([(MESSAGES, 'messages=[{"role": "system", "content": question}]')], "with the role 'user'"),
    ([(MESSAGES, 'messages=[{"role": "system", "content": "Be brief."}, '
                 '{"role": "user", "content": question}]')],
     "as the only message"),
    ([("temperature=0)", ")")], "temperature=0"),
    ([("max_tokens=max_tokens,", "max_tokens=32,")], "pass `max_tokens` on"),
    ([('base_url=f"{base_url}/v1"', "base_url=base_url")], "give the openai client base_url + '/v1'"),
    ([("return reply.choices[0].message.content", "return reply")], "return the reply's text"),
    ([("return reply.choices[0].message.content", "return reply.choices[0].message")],
     "return the reply's text"),
    # false pass "request bodies whose whitespace is never compared": the question trimmed, or its
    # spaces collapsed, before it is sent
    ([(MESSAGES, 'messages=[{"role": "user", "content": question.strip()}]')],
     "spaces and new lines included"),
    ([(MESSAGES, 'messages=[{"role": "user", "content": " ".join(question.split())}]')],
     "spaces and new lines included"),
    # false pass "exact fields sent": a stop string the text never asked for changes the reply
    ([("temperature=0)", 'temperature=0, stop=["\\n"])')], "send only what the text asks"),
    # false pass "a reply without spaces around it": the reply trimmed
    ([("return reply.choices[0].message.content", "return reply.choices[0].message.content.strip()")],
     "as the server sent it"),
])
def test_wrong_clients_are_caught(edits, message):
    assert_caught("openai_client", ask_with(*edits), message)


def test_a_client_without_the_openai_package_is_caught():
    source = '''
def ask(base_url, question, max_tokens=32):
    import httpx
    body = {"model": "any", "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens,
            "temperature": 0}
    return httpx.post(f"{base_url}/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
'''
    assert_caught("openai_client", source, "with the openai package")


def test_a_stream_read_to_its_first_piece_is_caught():
    source = '''
def ask(base_url, question, max_tokens=32):
    client = OpenAI(base_url=f"{base_url}/v1", api_key="x")
    stream = client.chat.completions.create(model="m", stream=True, temperature=0, max_tokens=max_tokens,
                                            messages=[{"role": "user", "content": question}])
    return next(iter(stream)).choices[0].delta.content
'''
    assert_caught("openai_client", source, "return the reply's text")


def test_a_stream_joined_with_spaces_is_caught():
    """False pass "no text with a space before punctuation": pieces stripped and joined with
    spaces give the reply back only while every piece boundary falls on a space."""
    source = '''
def ask(base_url, question, max_tokens=32):
    client = OpenAI(base_url=f"{base_url}/v1", api_key="x")
    stream = client.chat.completions.create(model="m", stream=True, temperature=0, max_tokens=max_tokens,
                                            messages=[{"role": "user", "content": question}])
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    return " ".join(piece.strip() for piece in pieces if piece.strip())
'''
    assert_caught("openai_client", source, "join the streamed pieces as they are")


def test_the_default_budget_is_checked():
    source = ask_with(("def ask(base_url, question, max_tokens=32):",
                       "def ask(base_url, question, max_tokens=64):"))
    assert_caught("openai_client", source, "the function's default, 32")


def test_valid_clients_are_accepted():
    streamed = '''
def ask(base_url, question, max_tokens=32):
    client = OpenAI(base_url=base_url.rstrip("/") + "/v1", api_key="x")
    stream = client.chat.completions.create(model="m", stream=True, temperature=0.0,
                                            max_completion_tokens=max_tokens,
                                            messages=[{"role": "user",
                                                       "content": [{"type": "text", "text": question}]}])
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
'''
    assert_accepted("openai_client", streamed)
    assert_accepted("openai_client", solution("ask"))


# ------------------------------------------------------------------ exercise 3: pick_config
FINE = 'r["latency_p95_s"] <= max_p95_s'


@pytest.mark.parametrize("edits, message", [
    ([(FINE, 'r["latency_p95_s"] < max_p95_s')], "a p95 equal to the limit qualifies"),
    ([('r["errors"] == 0 and ', "")], "a row with errors never does"),
    ([('r["latency_p95_s"] is not None\n            and ', "")], "do not compare None with a number"),
    ([('["server"] if fine else None', ' if fine else None')], "return the row's `server`"),
    ([("max(fine, key=", "min(fine, key=")], "the most tokens/s"),
    ([('["server"] if fine else None', '["server"] if fine else ""')], "None when no row qualifies"),
])
def test_wrong_picks_are_caught(edits, message):
    assert_caught("pick_config", changed("pick_config", *edits), message)


def test_valid_picks_are_accepted():
    assert_accepted("pick_config", '''
def pick_config(rows, max_p95_s):
    ok = sorted((r for r in rows if not r["errors"] and (r["latency_p95_s"] or float("inf")) <= max_p95_s),
                key=lambda r: -r["tokens_per_s"])
    return ok[0]["server"] if ok else None
''')
    assert_accepted("pick_config", '''
def pick_config(rows, max_p95_s):
    import pandas as pd
    table = pd.DataFrame(rows, columns=["server", "errors", "tokens_per_s", "latency_p95_s"])
    table = table[(table.errors == 0) & table.latency_p95_s.notna()]
    table = table[table.latency_p95_s.astype(float) <= max_p95_s]
    return None if table.empty else table.loc[table.tokens_per_s.idxmax(), "server"]
''')


# ------------------------------------------------------------------ exercise 4: largest_batch
@pytest.mark.parametrize("edits, message", [
    ([("(gpu_bytes - n_params * bytes_per_value)", "gpu_bytes")], "subtract the weights"),
    ([('getattr(config, "num_key_value_heads", None) or config.num_attention_heads',
       "config.num_key_value_heads")],
     "has no num_key_value_heads and no head_dim"),
    ([('getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads',
       "config.hidden_size // config.num_attention_heads")], "head_dim = 256"),
    ([("max(0, (gpu_bytes - n_params * bytes_per_value) // per_sequence)",
       "(gpu_bytes - n_params * bytes_per_value) // per_sequence")], "never a negative number"),
    ([("(gpu_bytes - n_params * bytes_per_value) // per_sequence",
       "(gpu_bytes - n_params * bytes_per_value) / per_sequence")],
     "return a whole number"),
    ([("per_sequence = 2 * config", "per_sequence = config")], "2 x layers"),
    ([("(gpu_bytes - n_params * bytes_per_value)", "(gpu_bytes - n_params * 2)")],
     "bytes_per_value for weights"),
    ([("max(0, (gpu_bytes - n_params * bytes_per_value) // per_sequence)",
       "max(0, round((gpu_bytes - n_params * bytes_per_value) / per_sequence))")], "rounding down"),
])
def test_wrong_sizes_are_caught(edits, message):
    assert_caught("largest_batch", changed("largest_batch", *edits), message)


def test_valid_sizes_are_accepted():
    assert_accepted("largest_batch", '''
def largest_batch(config, n_params, gpu_bytes, tokens, bytes_per_value=2):
    import math
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None)
    dim = getattr(config, "head_dim", None)
    per_token = 2 * config.num_hidden_layers * (kv if kv is not None else heads) * \\
        (dim if dim is not None else config.hidden_size // heads) * bytes_per_value
    free = gpu_bytes - n_params * bytes_per_value
    return int(math.floor(free / (per_token * tokens))) if free > 0 else 0
''')


# ------------------------------------------------------------------ exercise 5: read_metrics
@pytest.mark.parametrize("edits, message", [
    ([('family.name == "tgi_request_count" and sample.name.endswith("_total")',
       'sample.name == "tgi_request_count"')], "requests: the value of the counter tgi_request_count"),
    ([('family.name == "tgi_request_count" and sample.name.endswith("_total")',
       'sample.name.startswith("tgi_request_count")')], "_created"),
    ([('values["failures"] += sample.value', 'values["failures"] = sample.value')], "over every `err` label"),
    ([('if sample.labels.get("err") == "overloaded":', "if True:")], "err=\"overloaded\""),
    ([("duration_sum / duration_count if duration_count else None", "duration_sum / duration_count")],
     "not a division by zero"),
    ([("duration_sum / duration_count if duration_count else None",
       "duration_sum / duration_count if duration_count else 0.0")],
     "mean_duration_s is None"),
])
def test_wrong_readers_are_caught(edits, message):
    assert_caught("read_metrics", changed("read_metrics", *edits), message)


def test_valid_readers_are_accepted():
    assert_accepted("read_metrics", '''
def read_metrics(text):
    from prometheus_client.parser import text_string_to_metric_families
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    def total(name, **labels):
        return sum(s.value for s in samples if s.name.removesuffix("_total") == name
                   and all(s.labels.get(k) == v for k, v in labels.items()))
    count = total("tgi_request_duration_count")
    return {"requests": total("tgi_request_count"), "failures": total("tgi_request_failure"),
            "overloaded": total("tgi_request_failure", err="overloaded"),
            "queue_size": total("tgi_queue_size"),
            "mean_duration_s": total("tgi_request_duration_sum") / count if count else None}
''')
    assert_accepted("read_metrics", solution("read_metrics"))
