"""course_utils.constrained: the vocabulary as text, and llguidance's mask inside generate()."""

import json

import pytest
import torch
from transformers import LogitsProcessorList

from course_utils.constrained import GrammarProcessor, token_texts
from course_utils.server.grammar import Constraint, Grammars, InvalidConstraint

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "year": {"type": "integer"}},
          "required": ["city", "year"], "additionalProperties": False}


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    tokenizer.padding_side = "left"
    return model, tokenizer


@pytest.fixture(scope="module")
def grammars(model_and_tokenizer):
    return Grammars(model_and_tokenizer[1])


def test_token_texts_read_back_what_the_tokenizer_decodes(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    texts = token_texts(tokenizer)
    assert len(texts) == len(tokenizer)
    assert all(texts[i] is None for i in tokenizer.all_special_ids)
    assert not any(text == "" or (text and "\ufffd" in text) for text in texts)
    sentence = ' {"city": "Paris", "year": 1989} and naïve café, 3.14'
    ids = tokenizer.encode(sentence, add_special_tokens=False)
    assert "".join(texts[i] for i in ids) == tokenizer.decode(ids) == sentence


def test_a_part_of_a_character_has_no_text(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    texts = token_texts(tokenizer)
    pieces = [i for i in tokenizer.encode("🦁", add_special_tokens=False) if texts[i] is None]
    assert pieces, "an emoji split into byte tokens: at least one piece holds part of a character"


def _generate(model, tokenizer, prompts, processor, max_new_tokens=40):
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                             logits_processor=LogitsProcessorList([processor]),
                             pad_token_id=tokenizer.eos_token_id)
    start = batch["input_ids"].shape[1]
    return out[:, start:], [tokenizer.decode(row[start:], skip_special_tokens=True) for row in out]


def test_every_row_of_a_batch_follows_the_schema(model_and_tokenizer, grammars):
    """The tiny model's weights are random: without the mask its text is gibberish."""
    model, tokenizer = model_and_tokenizer
    bounded = {**SCHEMA, "properties": {"city": {"type": "string", "maxLength": 8},  # random weights: bounds
                                        "year": {"type": "integer", "minimum": 0, "maximum": 2100}}}
    processor = GrammarProcessor(grammars, Constraint.json_schema(bounded), tokenizer.eos_token_id)
    _, answers = _generate(model, tokenizer, ["a city and a year:", "Tell me", "x"], processor, 60)
    for answer in answers:
        value = json.loads(answer)  # valid JSON, or the test fails here
        assert set(value) == {"city", "year"}, answer
        assert len(value["city"]) <= 8 and 0 <= value["year"] <= 2100, answer
    assert processor.calls > 0 and processor.seconds > 0


def test_a_finished_row_gets_only_the_end_token(model_and_tokenizer, grammars):
    model, tokenizer = model_and_tokenizer
    eos = tokenizer.eos_token_id
    processor = GrammarProcessor(grammars, Constraint("regex", "(yes|no)"), eos)
    tokens, answers = _generate(model, tokenizer, ["Is it?", "Was it not, then?"], processor, 12)
    assert all(answer in ("yes", "no") for answer in answers), answers
    for row in tokens.tolist():
        end = row.index(eos)
        assert all(token == eos for token in row[end:]), row
    fresh = GrammarProcessor(grammars, Constraint("regex", "(yes|no)"), eos)
    fresh(torch.tensor([[1, 2]]), torch.zeros(1, len(tokenizer)))  # the prompt
    scores = fresh(torch.tensor([[1, 2, eos]]), torch.zeros(1, len(tokenizer)))  # then the end token
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == [eos]


def test_a_bad_schema_is_refused_before_generation(grammars, model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    with pytest.raises(InvalidConstraint, match="not a valid JSON Schema"):
        GrammarProcessor(grammars, Constraint.json_schema({"type": "objekt"}), tokenizer.eos_token_id)
