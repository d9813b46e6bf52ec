"""Token ids to text and stop strings (course_utils/server/text.py)."""

import pytest

from course_utils.server.text import Detokenizer, StopStrings, held_back


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


@pytest.mark.parametrize(
    "text", ["Hello world, how are you?", "naïve café 🎉 déjà vu", "  spaces\n\nand lines  "]
)
def test_pieces_add_up_to_the_decoded_text(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detokenizer = Detokenizer(tokenizer)
    pieces = [detokenizer.add(i) for i in ids]
    assert "".join(pieces) == tokenizer.decode(ids) == text
    assert not any("\ufffd" in p for p in pieces), "a character was cut in half"


def test_an_emoji_spread_over_tokens_comes_out_whole(tokenizer):
    ids = tokenizer("🎉", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1, "the test needs a character spread over several tokens"
    detokenizer = Detokenizer(tokenizer)
    pieces = [detokenizer.add(i) for i in ids]
    assert pieces[:-1] == [""] * (len(ids) - 1) and pieces[-1] == "🎉"


def test_special_tokens_add_no_text(tokenizer):
    detokenizer = Detokenizer(tokenizer)
    assert detokenizer.add(tokenizer("Hi", add_special_tokens=False)["input_ids"][0]) == "Hi"
    assert detokenizer.add(tokenizer.eos_token_id) == ""


def test_stop_strings_cut_after_the_earliest_one():
    stops = StopStrings(["world", "lo w"])
    assert stops.check("Hello", 5) == ("Hello", None)
    assert stops.check("Hello world", 6) == ("Hello w", "lo w"), "'lo w' ends first"
    assert StopStrings([]).check("anything", 8) == ("anything", None)


def test_a_stop_string_spread_over_pieces_is_found():
    stops = StopStrings(["END"])
    text = ""
    found = None
    for piece in ["The E", "N", "Dgame"]:
        text, found = stops.check(text + piece, len(piece))
        if found:
            break
    assert (text, found) == ("The END", "END")


def test_held_back_is_what_could_still_become_a_stop():
    assert held_back("Hello wor", ["world"]) == 3
    assert held_back("Hello", ["world"]) == 0
    assert held_back("abab", ["abc", "bab"]) == 3
    assert held_back("x", []) == 0
