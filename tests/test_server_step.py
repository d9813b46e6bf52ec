"""The running batch and its KV cache: rows join and leave and still get their own answers
(course_utils/server/step.py)."""

import pytest
import torch

from course_utils.server.request import Channel, Request
from course_utils.server.sampling import SamplingParams
from course_utils.server.step import Batch, Row

PROMPTS = ["Hello there", "The sea is very", "One two three four five six", "A"]


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_and_tokenizer):
    return tiny_model_and_tokenizer


def alone(model, tokenizer, prompt, n):
    ids = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.eos_token_id,
                         eos_token_id=None)
    return out[0, ids["input_ids"].shape[1]:].tolist()


def row(tokenizer, prompt, n):
    request = Request(tokenizer(prompt)["input_ids"], SamplingParams(max_new_tokens=n), Channel())
    return Row(request, tokenizer, "cpu", eos_ids=set(), special_ids=set())


def test_rows_that_join_and_leave_get_the_same_greedy_tokens_as_alone(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    budgets = [6, 3, 8, 5]
    rows = [row(tokenizer, p, n) for p, n in zip(PROMPTS, budgets)]
    got = {i: [] for i in range(4)}
    batch = Batch()
    with torch.inference_mode():
        for step in range(12):
            if step in (0, 2):  # two rows join at step 0, two more at step 2
                new_rows = rows[:2] if step == 0 else rows[2:]
                new, logits = Batch.prefill(model, new_rows, tokenizer.eos_token_id)
                new.last = logits.argmax(-1)
                for r, token in zip(new_rows, new.last.tolist()):
                    got[rows.index(r)].append(token)
                batch.merge(new)
            if not batch.rows:
                break
            keep = [i for i, r in enumerate(batch.rows) if len(got[rows.index(r)]) < budgets[rows.index(r)]]
            batch.keep(keep)  # the rows that have their budget leave
            if not batch.rows:
                break
            batch.last = batch.decode(model).argmax(-1)
            for r, token in zip(batch.rows, batch.last.tolist()):
                got[rows.index(r)].append(token)
    for i, prompt in enumerate(PROMPTS):
        assert got[i] == alone(model, tokenizer, prompt, budgets[i]), f"row {i} ({prompt!r}) changed"


def test_leaving_drops_the_columns_only_padding_used(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    long, short = row(tokenizer, "One two three four five six seven eight", 4), row(tokenizer, "A", 4)
    with torch.inference_mode():
        batch, _ = Batch.prefill(model, [long, short], tokenizer.eos_token_id)
        width = batch.mask.shape[1]
        batch.keep([1])  # the long prompt leaves: the short one needs only its own columns
    assert batch.mask.shape[1] < width
    assert bool(batch.mask.all()), "no padding column left"
    assert batch.cache.layers[0].keys.shape[2] == batch.mask.shape[1]


def test_merge_pads_the_shorter_batch_on_the_left(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    with torch.inference_mode():
        a, _ = Batch.prefill(model, [row(tokenizer, "A", 2)], tokenizer.eos_token_id)
        b, _ = Batch.prefill(model, [row(tokenizer, "One two three four", 2)], tokenizer.eos_token_id)
        a.last, b.last = torch.tensor([1]), torch.tensor([1])
        a.merge(b)
    assert len(a) == 2 and a.mask.shape == (2, b.mask.shape[1])
    assert a.mask[0, 0] == 0 and a.mask[0, -1] == 1, "the short prompt is padded on the left"
    assert a.cache.layers[0].keys.shape[:3] == (2, model.config.num_key_value_heads, a.mask.shape[1])


def test_the_course_model_cache_can_be_merged(model_and_tokenizer):
    assert Batch.supports(model_and_tokenizer[0])


def test_prompts_that_share_a_start_with_recent_ones_reuse_it_and_get_the_same_logits(model_and_tokenizer):
    from course_utils.server.prefix import PrefixCache

    model, tokenizer = model_and_tokenizer
    first = "The weather in the old city of Paris is"
    later = [
        "The weather in the old city of Rome was cold",  # shares the start of the first
        "Bananas are yellow",  # shares nothing
        first,  # the same prompt again
    ]

    def logits_of(rows, prefixes):
        with torch.inference_mode():
            batch, logits = Batch.prefill(model, rows, tokenizer.eos_token_id, prefixes)
            seen = [logits]
            for _ in range(3):
                batch.last = seen[-1].argmax(-1)
                seen.append(batch.decode(model))
        return torch.stack(seen)

    prefixes = PrefixCache(1000)
    with torch.inference_mode():
        Batch.prefill(model, [row(tokenizer, first, 4)], tokenizer.eos_token_id, prefixes)
    rows = [row(tokenizer, p, 4) for p in later]
    reused = logits_of(rows, prefixes)
    computed = logits_of([row(tokenizer, p, 4) for p in later], None)
    shared = len(tokenizer("The weather in the old city of")["input_ids"])
    assert [r.cached_tokens for r in rows] == [shared, 0, len(rows[2].request.prompt_ids) - 1]
    torch.testing.assert_close(reused, computed, rtol=1e-4, atol=1e-4)
    assert all(r.request.prompt_ids in prefixes for r in rows), "each prompt is remembered"
