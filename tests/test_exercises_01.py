"""Lesson 01's checks, tried with wrong-but-plausible answers and with valid alternatives.

Every question (five exercises, three predictions) gets at least three wrong answers, each caught
with the message the learner reads, and at least one valid answer written differently from the
solution. The answers run against the full tests (public and hidden), as the grader runs them, on
the checks' own tiny random models: seconds per answer, no model generation.
"""

from __future__ import annotations

import time

import pytest
import torch
from exercise_harness import failure_text, run_check, timeouts_scaled, with_answer

LESSON = "01_pipeline_basics"


@pytest.fixture(scope="module")
def env(course_model_dir):
    """What the notebook defines before its exercises: the course tokenizer, torch, the experiments."""
    from transformers import AutoTokenizer

    return {
        "torch": torch,
        "tokenizer": AutoTokenizer.from_pretrained(course_model_dir),
        # what the lesson's experiments measured (the prediction checks compare with them)
        "forward_calls": [(5, 0), (1, 5), (1, 6), (1, 7), (1, 8)],
        "quick_batch": {1: 9.0, 4: 21.0, 16: 35.0},
    }


def caught(env, question, answer, *fragments):
    """The answer fails the question, and the learner's messages contain every fragment."""
    result = run_check(LESSON, question, with_answer(env, answer))
    assert not result.passed, f"{question}: this wrong answer passed:\n{answer}"
    text = failure_text(result)
    for fragment in fragments:
        assert fragment in text, f"{question}: expected {fragment!r} in the messages:\n{text}"
    return text


def accepted(env, question, answer):
    result = run_check(LESSON, question, with_answer(env, answer))
    assert result.passed, f"{question}: a valid answer was rejected:\n{failure_text(result)}\n{answer}"


def test_no_message_gives_the_expected_value_away(env):
    """A failing check names the mistake, never the right ids, probability or replies."""
    text = caught(env, "continuation_probability", '''
        def continuation_probability(model, tokenizer, text, continuation):
            return 0.5
    ''')
    assert "e-" not in text, text  # no probability of the tiny model printed
    text = caught(env, "tokens_round_trip", '''
        def encode_decode(tokenizer, text):
            return [1, 2, 3], tokenizer.decode([1, 2, 3])
    ''')
    assert str(env["tokenizer"]("Pipelines hide three stages.")["input_ids"]) not in text


# ---------------------------------------------------------------- Exercise 1: tokens_round_trip
@pytest.mark.parametrize("answer, fragments", [
    ('''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text, return_tensors="pt")["input_ids"]
            return ids, tokenizer.decode(ids[0])
    ''', ["plain Python list of ints"]),
    ('''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text)["input_ids"]
            return ids, tokenizer.decode(ids, skip_special_tokens=True)
    ''', ["lost <|im_end|>", "skip_special_tokens=True"]),
    ('''
        def encode_decode(tokenizer, text):
            return tokenizer(text)["input_ids"], text
    ''', ["not from a copy of the text"]),
    ('''
        def encode_decode(tokenizer, text):
            tokens = tokenizer.tokenize(text)
            return tokens, tokenizer.convert_tokens_to_string(tokens)
    ''', ["Python ints"]),
    ('''
        def encode_decode(tokenizer, text):
            return tokenizer(text)["input_ids"]
    ''', ["return a pair (ids, decoded)"]),
    ('''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text)["input_ids"]
            return ids, tokenizer.decode(ids).strip()
    ''', ["do not strip"]),
    ('''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text.lower())["input_ids"]
            return ids, text
    ''', ["not the tokenizer's ids"]),
    # false-pass kind "no text with a space before punctuation": the clean-up that 5.5 and WordPiece
    # tokenizers apply (5.23 skips it for BPE) removes the space in "Wait , what ?"
    ('''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text)["input_ids"]
            return ids, tokenizer.decode(ids, clean_up_tokenization_spaces=True)
    ''', ["lost the spaces before ','", "clean_up_tokenization_spaces=True"]),
    ('''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text)["input_ids"]
            return ids, tokenizer.clean_up_tokenization(tokenizer.decode(ids))
    ''', ["lost the spaces before ','"]),
])
def test_round_trip_wrong(env, answer, fragments):
    caught(env, "tokens_round_trip", answer, *fragments)


@pytest.mark.parametrize("answer", [
    '''
        def encode_decode(tokenizer, text):
            ids = tokenizer.encode(text)
            return ids, tokenizer.decode(ids)
    ''',
    '''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text, return_tensors="pt")["input_ids"][0].tolist()
            return [ids, tokenizer.batch_decode([ids])[0]]
    ''',
    '''
        def encode_decode(tokenizer, text):
            ids = tokenizer(text).input_ids
            return ids, tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(ids))
    ''',
])
def test_round_trip_valid(env, answer):
    accepted(env, "tokens_round_trip", answer)


# ---------------------------------------------------------------- Exercise 2: continuation_probability
PROBABILITY_WRONG = [
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([a + b], device=model.device)
            lp = model(input_ids=ids).logits[0].log_softmax(-1)
            return float(sum(lp[len(a) + i, t] for i, t in enumerate(b)).exp())
    ''', ["check which position you read"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([a + b], device=model.device)
            probs = model(input_ids=ids).logits[0].softmax(-1)
            return float(probs[len(a) - 1, b[0]]) if b else 1.0
    ''', ["scored only the continuation's first token"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([a + b], device=model.device)
            lp = model(input_ids=ids).logits[0].log_softmax(-1)
            return float(sum(lp[len(a) - 1 + i, t] for i, t in enumerate(b)))
    ''', ["between 0 and 1"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            full = tokenizer(text + continuation)["input_ids"]
            ids = torch.tensor([full], device=model.device)
            lp = model(input_ids=ids).logits[0].log_softmax(-1)
            return float(sum(lp[i - 1, full[i]] for i in range(len(a), len(full))).exp())
    ''', ["for 'Hello wor' + 'ld'", "own ids"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text, return_tensors="pt").to(model.device)
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            out = model.generate(**a, max_new_tokens=len(b), output_scores=True, return_dict_in_generate=True)
            return 1.0
    ''', ["do not call generate()"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            ids = tokenizer(text)["input_ids"]
            p = 1.0
            for t in tokenizer(continuation, add_special_tokens=False)["input_ids"]:
                x = torch.tensor([ids], device=model.device)
                p *= float(model(input_ids=x).logits[0, -1].softmax(-1)[t])
                ids = ids + [t]
            return p
    ''', ["called the model 5 times", "one forward pass"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            lp = model(input_ids=torch.tensor([a + b])).logits[0].log_softmax(-1)
            return float(sum(lp[len(a) - 1 + i, t] for i, t in enumerate(b)).exp()) if b else 1.0
    ''', [".to(model.device)"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([a + b], device=model.device)
            lp = model(input_ids=ids).logits[0, :-1].log_softmax(-1)
            picked = lp.gather(1, ids[0, 1:, None])[-len(b):]
            return float(picked.sum().exp())
    ''', ["empty continuation has probability 1"]),
    ('''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([a + b], device=model.device)
            lp = model(input_ids=ids).logits[0].log_softmax(0)
            return float(sum(lp[len(a) - 1 + i, t] for i, t in enumerate(b)).exp()) if b else 1.0
    ''', ["not the model's"]),
]


@pytest.mark.parametrize("answer, fragments", PROBABILITY_WRONG)
def test_continuation_probability_wrong(env, answer, fragments):
    caught(env, "continuation_probability", answer, *fragments)


@pytest.mark.parametrize("answer", [
    # probabilities multiplied (no logs), a tensor returned
    '''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                probs = model(torch.tensor([a + b]).to(model.device)).logits[0].softmax(dim=-1)
            p = torch.tensor(1.0)
            for i, t in enumerate(b):
                p = p * probs[len(a) - 1 + i, t]
            return p
    ''',
    # the training-loss view: shifted labels, gather, guarded for an empty continuation
    '''
        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text)["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            if not b:
                return 1.0
            ids = torch.tensor([a + b], device=model.device)
            with torch.inference_mode():
                lp = model(input_ids=ids).logits[0, :-1].double().log_softmax(-1)
            picked = lp.gather(1, ids[0, 1:, None].to(lp.device))[len(a) - 1:]
            return picked.sum().exp().item()
    ''',
    # cross-entropy over the continuation's positions
    '''
        import torch.nn.functional as F

        def continuation_probability(model, tokenizer, text, continuation):
            a = tokenizer(text, return_tensors="pt")["input_ids"]
            b = tokenizer(continuation, add_special_tokens=False, return_tensors="pt")["input_ids"]
            if b.shape[1] == 0:
                return 1.0
            ids = torch.cat([a, b], dim=1).to(model.device)
            logits = model(ids).logits[0, a.shape[1] - 1:-1]
            loss = F.cross_entropy(logits.float(), b[0].to(model.device), reduction="sum")
            return float(torch.exp(-loss))
    ''',
])
def test_continuation_probability_valid(env, answer):
    accepted(env, "continuation_probability", answer)


# ---------------------------------------------------------------- Exercise 3: batch_replies
@pytest.mark.parametrize("answer, fragments", [
    ('''
        def replies(outputs):
            return outputs[0]["generated_text"][-1]["content"]
    ''', ["raised TypeError", "outputs[i][0]"]),
    ('''
        def replies(outputs):
            return [o[0]["generated_text"][-1]["content"] for o in outputs]
    ''', ["with return_full_text=False your replies() raised"]),
    ('''
        def replies(outputs):
            return [o[0]["generated_text"][-1] if isinstance(o[0]["generated_text"], list)
                    else o[0]["generated_text"] for o in outputs]
    ''', ["each reply should be a string"]),
    ('''
        def replies(outputs):
            out = []
            for o in outputs:
                g = o[0]["generated_text"]
                if isinstance(g, str):
                    out.append(g)
                else:
                    out.append(next(m["content"] for m in g if m["role"] == "assistant"))
            return out
    ''', ["the reply is the content of the last message"]),
    ('''
        def replies(outputs):
            texts = [o[0]["generated_text"] for o in outputs]
            return [t if isinstance(t, str) else t[-1]["content"] for t in texts if t]
    ''', ["empty reply"]),
    ('''
        def replies(outputs):
            return [o[0]["generated_text"] for o in outputs]
    ''', ["each reply should be a string"]),
    ('''
        def replies(outputs):
            return [str(o[0]["generated_text"]) for o in outputs]
    ''', ["the reply is the content of the last message"]),
    # false-pass kind "only one sequence per input ever tested" (num_return_sequences=2):
    # a reply per sequence, and the last sequence instead of the first
    ('''
        def replies(outputs):
            texts = []
            for result in outputs:
                for sequence in result:
                    g = sequence["generated_text"]
                    texts.append(g if isinstance(g, str) else g[-1]["content"])
            return texts
    ''', ["you returned one reply per sequence", "result[0]"]),
    ('''
        def replies(outputs):
            texts = []
            for result in outputs:
                g = result[-1]["generated_text"]
                texts.append(g if isinstance(g, str) else g[-1]["content"])
            return texts
    ''', ["take the first (result[0]), not the last"]),
])
def test_batch_replies_wrong(env, answer, fragments):
    caught(env, "batch_replies", answer, *fragments)


@pytest.mark.parametrize("answer", [
    '''
        def replies(outputs):
            result = []
            for sequences in outputs:
                first = sequences[0].get("generated_text")
                if isinstance(first, list):
                    first = first[-1]["content"]
                result.append(first)
            return result
    ''',
    '''
        def replies(outputs):
            def one(generated):
                try:
                    return generated[-1]["content"]
                except (TypeError, IndexError):  # a string: already the reply
                    return generated
            return [one(result[0]["generated_text"]) for result in outputs]
    ''',
])
def test_batch_replies_valid(env, answer):
    accepted(env, "batch_replies", answer)


# ---------------------------------------------------------------- Exercise 4: batch_generate
BATCH_WRONG = [
    ('''
        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            batch = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["changed the tokenizer it was given"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.copy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["changed the tokenizer it was given"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True).to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["pad on the left"]),
    ('''
        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            replies = []
            for p in prompts:
                enc = tokenizer(p, return_tensors="pt").to(model.device)
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
                replies.append(tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
            return replies
    ''', ["once for the whole batch"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["make it greedy"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return [t.strip() for t in tok.batch_decode(out[:, batch["input_ids"].shape[1]:],
                                                        skip_special_tokens=True)]
    ''', ["do not strip"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return tok.batch_decode(out, skip_special_tokens=True)
    ''', ["return only the new text"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left")
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', [".to(model.device)"]),
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(batch["input_ids"], max_new_tokens=max_new_tokens, do_sample=False)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["pass the attention mask"]),
    ('''
        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            batch = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
            batch = batch.to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
            return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["raised ValueError", "no pad token"]),
    # false-pass kind "every tested row ends at the same step": rows that end early with the
    # end-of-sequence token, then padding, reach the text without skip_special_tokens
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:])
    ''', ["two rows end early", "skip_special_tokens=True"]),
    # the same kind: each row cut after its first pad token, which here is also the end-of-sequence token
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            texts = []
            for row in out[:, batch["input_ids"].shape[1]:].tolist():
                end = row.index(tok.pad_token_id) + 1 if tok.pad_token_id in row else len(row)
                texts.append(tok.decode(row[:end]))
            return texts
    ''', ["two rows end early"]),
    # false-pass kind "a tiny model that never emits EOS": "exactly N" forced with min_new_tokens
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tok.pad_token_id)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    ''', ["max_new_tokens is an upper bound", "min_new_tokens"]),
    # false-pass kind "no text with a space before punctuation"
    ('''
        import copy

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            return tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True,
                                    clean_up_tokenization_spaces=True)
    ''', ["space before the punctuation was removed"]),
]


@pytest.mark.parametrize("answer, fragments", BATCH_WRONG)
def test_batch_generate_wrong(env, answer, fragments):
    caught(env, "batch_generate", answer, *fragments)


@pytest.mark.parametrize("answer", [
    # change the caller's tokenizer for one call, and restore it whatever happens
    '''
        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            saved = tokenizer.pad_token
            if saved is None:
                tokenizer.pad_token = tokenizer.eos_token
            try:
                batch = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
                batch = {k: v.to(model.device) for k, v in batch.items()}
                with torch.no_grad():
                    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=tokenizer.pad_token_id)
                return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
            finally:
                tokenizer.pad_token = saved
    ''',
    # left padding by hand, no tokenizer padding at all
    '''
        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            rows = [tokenizer(p)["input_ids"] for p in prompts]
            width = max(len(r) for r in rows)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
            ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=model.device)
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=model.device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=pad)
            return [tokenizer.decode(row[width:], skip_special_tokens=True) for row in out]
    ''',
    # each row decoded by hand up to its own end-of-sequence token (rows end at different steps)
    '''
        import copy

        from transformers import GenerationConfig

        def generate_batch(model, tokenizer, prompts, max_new_tokens):
            tok = copy.deepcopy(tokenizer)
            tok.pad_token = tok.pad_token or tok.eos_token
            batch = tok(prompts, return_tensors="pt", padding=True, padding_side="left").to(model.device)
            with torch.inference_mode():
                out = model.generate(**batch, generation_config=GenerationConfig(
                    max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id))
            texts = []
            for row in out[:, batch["input_ids"].shape[1]:].tolist():
                end = row.index(tok.eos_token_id) if tok.eos_token_id in row else len(row)
                texts.append(tok.decode(row[:end]))
            return texts
    ''',
])
def test_batch_generate_valid(env, answer):
    accepted(env, "batch_generate", answer)


# ---------------------------------------------------------------- Exercise 5: kv_cache_loop
KV_WRONG = [
    # section 2.2's loop: no cache at all
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            new = []
            for _ in range(max_new_tokens):
                t = model(input_ids=ids).logits[0, -1].argmax()
                new.append(int(t))
                if new[-1] == tokenizer.eos_token_id:
                    break
                ids = torch.cat([ids, t.view(1, 1)], dim=1)
            return new
    ''', ["give it only the newest token"]),
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            enc = tokenizer(text, return_tensors="pt").to(model.device)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
            return out[0, enc["input_ids"].shape[1]:].tolist()
    ''', ["do not call generate()"]),
    # never stops at the end-of-sequence token
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            cache, new = None, []
            for _ in range(max_new_tokens):
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, -1:].argmax(-1)
                new.append(int(ids))
            return new
    ''', ["stop right after it"]),
    # stops at the end-of-sequence token but drops it
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            cache, new = None, []
            for _ in range(max_new_tokens):
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, -1:].argmax(-1)
                if int(ids) == tokenizer.eos_token_id:
                    break
                new.append(int(ids))
            return new
    ''', ["keep it in the list"]),
    # only the newest token, but the cache is not passed back
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            new = []
            for _ in range(max_new_tokens):
                out = model(input_ids=ids, use_cache=True)
                ids = out.logits[:, -1:].argmax(-1)
                new.append(int(ids))
                if new[-1] == tokenizer.eos_token_id:
                    break
            return new
    ''', ["past_key_values="]),
    # returns the prompt too
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            every, cache = ids[0].tolist(), None
            for _ in range(max_new_tokens):
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, -1:].argmax(-1)
                every.append(int(ids))
                if every[-1] == tokenizer.eos_token_id:
                    break
            return every
    ''', ["return only the new tokens"]),
    # ignores the budget: stops only at the end-of-sequence token or after 20 tokens
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            cache, new = None, []
            while len(new) < 20:
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, -1:].argmax(-1)
                new.append(int(ids))
                if new[-1] == tokenizer.eos_token_id:
                    break
            return new
    ''', ["you returned 20 tokens"]),
    # the inputs stay on the CPU
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"]
            cache, new = None, []
            for _ in range(max_new_tokens):
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, -1:].argmax(-1)
                new.append(int(ids))
                if new[-1] == tokenizer.eos_token_id:
                    break
            return new
    ''', [".to(model.device)"]),
    # the most likely token of the wrong position (the first one)
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            cache, new = None, []
            for _ in range(max_new_tokens):
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, :1].argmax(-1)
                new.append(int(ids))
                if new[-1] == tokenizer.eos_token_id:
                    break
            return new
    ''', ["differ from generate()'s greedy tokens"]),
    # false-pass kind "a tiny model that never emits EOS": the end-of-sequence token is only looked
    # for after the prefill, so a reply whose first token ends it goes on
    ('''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            out = model(input_ids=ids, use_cache=True)
            token = out.logits[:, -1:].argmax(-1)
            new = [int(token)]
            for _ in range(max_new_tokens - 1):
                out = model(input_ids=token, past_key_values=out.past_key_values, use_cache=True)
                token = out.logits[:, -1:].argmax(-1)
                new.append(int(token))
                if new[-1] == tokenizer.eos_token_id:
                    break
            return new
    ''', ["for 'Hi there' with max_new_tokens=5", "new token 1: stop right after it"]),
]


@pytest.mark.parametrize("answer, fragments", KV_WRONG)
def test_kv_cache_loop_wrong(env, answer, fragments):
    caught(env, "kv_cache_loop", answer, *fragments)


def test_kv_cache_loop_endless_answer_is_reported_in_time(env):
    """An answer that never stops is reported within the check's 15 s, and the later cases skip."""
    namespace = with_answer(env, '''
        import threading
        import time

        stop_endless = threading.Event()

        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
            cache, new = None, []
            while not stop_endless.is_set():  # forgot max_new_tokens; this model never says eos
                out = model(input_ids=ids, past_key_values=cache)
                cache = out.past_key_values
                ids = out.logits[:, -1:].argmax(-1)
                new.append(int(ids))
                time.sleep(0.01)
            return new
    ''')
    start = time.perf_counter()
    try:
        with timeouts_scaled(0.2) as asked:  # waits 3 s of the learner's 15
            result = run_check(LESSON, "kv_cache_loop", namespace)
    finally:
        namespace["stop_endless"].set()
    elapsed = time.perf_counter() - start
    assert not result.passed
    text = failure_text(result)
    assert "no answer within 15 s" in text and "does your loop stop after max_new_tokens" in text, text
    assert "skipped: greedy_with_cache did not finish in an earlier check" in text, text
    assert asked and set(asked) == {15}, asked
    # the learner's limit is in `asked`; the wall clock only catches a check that never gives up (a
    # tight bound flaked when four CI jobs shared two cores)
    assert elapsed < 120, f"the endless answer held the check for {elapsed:.0f} s"


@pytest.mark.parametrize("answer", [
    # a DynamicCache made up front; the newest token fed at the top of the loop; a tensor returned
    '''
        from transformers import DynamicCache

        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            ids = tokenizer(text, return_tensors="pt").input_ids.to(model.device)
            cache = DynamicCache()
            new = []
            with torch.no_grad():
                step = ids
                while len(new) < max_new_tokens:
                    logits = model(input_ids=step, past_key_values=cache, use_cache=True).logits
                    step = logits[:, -1, :].argmax(dim=-1, keepdim=True)
                    new.append(step)
                    if step.item() == model.generation_config.eos_token_id:
                        break
            return torch.cat(new, dim=1)[0]
    ''',
    # the attention mask grown by hand, eos read as a list from the generation config
    '''
        def greedy_with_cache(model, tokenizer, text, max_new_tokens):
            enc = tokenizer(text, return_tensors="pt").to(model.device)
            ids, mask = enc["input_ids"], enc["attention_mask"]
            eos = model.generation_config.eos_token_id
            eos = set(eos) if isinstance(eos, (list, tuple)) else {eos}
            out = model(input_ids=ids, attention_mask=mask)
            new = []
            while True:
                token = int(out.logits[0, -1].argmax())
                new.append(token)
                if token in eos or len(new) == max_new_tokens:
                    return new
                mask = torch.cat([mask, mask.new_ones(1, 1)], dim=1)
                out = model(input_ids=torch.tensor([[token]], device=model.device), attention_mask=mask,
                            past_key_values=out.past_key_values)
    ''',
])
def test_kv_cache_loop_valid(env, answer):
    accepted(env, "kv_cache_loop", answer)


# (the predictions: tests/test_predictions.py, the same for every lesson)


def test_unanswered_questions_fail_politely(env):
    """The blank notebook's `...` answers fail with a message, not a crash."""
    blanks = {
        "tokens_round_trip": "def encode_decode(tokenizer, text):\n    ...",
        "continuation_probability":
            "def continuation_probability(model, tokenizer, text, continuation):\n    ...",
        "batch_replies": "def replies(outputs):\n    ...",
        "batch_generate": "def generate_batch(model, tokenizer, prompts, max_new_tokens):\n    ...",
        "kv_cache_loop": "def greedy_with_cache(model, tokenizer, text, max_new_tokens):\n    ...",
        "predict_forward_calls": "predicted_forward_calls = ...",
        "predict_right_padding": "predicted_padding_letter = ...",
        "predict_best_batch_size": "predicted_best_batch_size = ...",
    }
    for question, blank in blanks.items():
        result = run_check(LESSON, question, with_answer(env, blank))
        assert not result.passed, question
        assert all(case.message for case in result.failures()), question
