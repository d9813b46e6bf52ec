import pytest

from course_utils.generation import (
    GenerationParams,
    InvalidGenerationParams,
    distinct_n,
    generate_kwargs,
    presets,
    validate,
)


def test_defaults_are_greedy():
    assert generate_kwargs() == {"max_new_tokens": 64, "do_sample": False}


def test_temperature_zero_means_greedy_and_drops_sampling_flags():
    kwargs = generate_kwargs({"temperature": 0, "top_p": 0.9, "max_new_tokens": 8})
    assert kwargs == {"max_new_tokens": 8, "do_sample": False}


def test_sampling_settings_turn_sampling_on():
    kwargs = generate_kwargs({"temperature": 0.7, "top_p": 0.9, "top_k": 20})
    assert kwargs == {"max_new_tokens": 64, "do_sample": True, "temperature": 0.7, "top_p": 0.9,
                      "top_k": 20}
    assert generate_kwargs({"top_k": 5})["do_sample"] is True
    assert generate_kwargs({"do_sample": False, "top_k": 5}) == {"max_new_tokens": 64,
                                                                 "do_sample": False}


def test_stop_strings_come_with_the_tokenizer():
    tokenizer = object()
    kwargs = generate_kwargs({"stop": ["."]}, tokenizer=tokenizer)
    assert kwargs["stop_strings"] == ["."] and kwargs["tokenizer"] is tokenizer
    assert generate_kwargs({"stop": "\n"}, tokenizer=tokenizer)["stop_strings"] == ["\n"]
    with pytest.raises(InvalidGenerationParams, match="need the tokenizer"):
        generate_kwargs({"stop": ["."]})


def test_several_sequences_need_sampling():
    assert generate_kwargs({"num_return_sequences": 3, "temperature": 1.0})["num_return_sequences"] == 3
    with pytest.raises(InvalidGenerationParams, match="needs sampling") as err:
        generate_kwargs({"num_return_sequences": 3})
    assert err.value.param == "num_return_sequences"


@pytest.mark.parametrize("params, param, message", [
    ({"temperature": -0.5}, "temperature", "strictly positive"),
    ({"temperature": 0, "do_sample": True}, "temperature", "strictly positive"),
    ({"top_p": 0}, "top_p", "> 0.0 and <= 1.0"),
    ({"top_p": 1.5}, "top_p", "> 0.0 and <= 1.0"),
    ({"top_k": -1}, "top_k", ">= 0"),
    ({"top_k": 2.5}, "top_k", "an integer"),
    ({"repetition_penalty": 0}, "repetition_penalty", "strictly positive"),
    ({"max_new_tokens": 0}, "max_new_tokens", "between 1 and"),
    ({"max_new_tokens": 5000}, "max_new_tokens", "between 1 and 1024"),
    ({"max_new_tokens": "ten"}, "max_new_tokens", "an integer"),
    ({"max_new_tokens": True}, "max_new_tokens", "an integer"),
    ({"temperature": float("nan")}, "temperature", "finite"),
    ({"temperature": float("inf")}, "temperature", "finite"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"stop": [""]}, "stop", "must not be empty"),
    ({"stop": [1]}, "stop", "list of strings"),
    ({"seed": -3}, "seed", ">= 0"),
    ({"do_sample": "yes"}, "do_sample", "true or false"),
    ({"colour": "red"}, "colour", "unknown generation parameter"),
])
def test_bad_values_name_the_parameter(params, param, message):
    with pytest.raises(InvalidGenerationParams, match=message) as err:
        validate(params)
    assert err.value.param == param


def test_context_limit_in_tgi_words():
    with pytest.raises(InvalidGenerationParams, match=r"must be <= 2048\. Given: 2000 `inputs` tokens "
                                                      r"and 64 `max_new_tokens`"):
        validate(GenerationParams(), prompt_tokens=2000, max_total_tokens=2048)
    assert validate(GenerationParams(), prompt_tokens=1984, max_total_tokens=2048).max_new_tokens == 64


def test_custom_limit():
    with pytest.raises(InvalidGenerationParams, match="between 1 and 32"):
        validate({"max_new_tokens": 33}, max_new_tokens_limit=32)


def test_generate_accepts_the_kwargs(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    inputs = tokenizer(["Hello there"], return_tensors="pt")
    kwargs = generate_kwargs({"max_new_tokens": 4, "temperature": 0.8, "top_p": 0.9,
                              "num_return_sequences": 2, "stop": ["."]}, tokenizer=tokenizer)
    out = model.generate(**inputs, **kwargs, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[0] == 2 and out.shape[1] <= inputs["input_ids"].shape[1] + 4


def test_presets():
    found = presets()
    assert set(found) == {"precise", "balanced", "creative"}
    assert found["precise"].do_sample is False
    assert found["creative"].temperature > found["balanced"].temperature


def test_distinct_n():
    assert distinct_n(["a b c d"], n=2) == 1.0
    assert distinct_n(["a b a b a b"], n=2) == pytest.approx(2 / 5)
    assert distinct_n(["same words here", "same words here"], n=1) == pytest.approx(3 / 6)
    assert distinct_n([], n=2) == 0.0


def test_validate_does_not_change_the_callers_params():
    params = GenerationParams(stop="\n")
    assert validate(params).stop == ["\n"]
    assert params.stop == "\n"
