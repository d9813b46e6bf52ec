"""Per-row sampling, without a model (course_utils/server/sampling.py)."""

import math

import pytest
import torch

from course_utils.generation import InvalidGenerationParams
from course_utils.server.sampling import RowState, Sampler, SamplingParams, validate_sampling

VOCAB = 8


def rows(*params, prompt=(1, 2)):
    return [RowState(p, list(prompt), "cpu") for p in params]


def logits(*rows_of_values):
    return torch.tensor(rows_of_values, dtype=torch.float32)


def test_greedy_rows_take_the_argmax_and_report_the_models_logprob():
    scores = logits([0, 3, 1, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0, 1])
    choices = Sampler().sample(scores, rows(SamplingParams(), SamplingParams()))
    assert [c.id for c in choices] == [1, 0]
    expected = torch.log_softmax(scores, -1)
    assert math.isclose(choices[0].logprob, expected[0, 1].item(), rel_tol=1e-6)
    assert choices[0].top == []


def test_top_logprobs_are_the_most_likely_tokens_in_order():
    scores = logits([0, 3, 1, 2, 0, 0, 0, 0])
    choice = Sampler().sample(scores, rows(SamplingParams(top_logprobs=3)))[0]
    assert [token for token, _ in choice.top] == [1, 3, 2]
    assert choice.top[0][1] == pytest.approx(choice.logprob)


def test_each_row_keeps_its_own_settings_in_one_batch():
    scores = logits(*[[0.0] * 7 + [4.0]] * 3)
    greedy, hot, narrow = rows(
        SamplingParams(),
        SamplingParams(do_sample=True, temperature=50.0, seed=1),
        SamplingParams(do_sample=True, temperature=50.0, top_k=1, seed=1),
    )
    seen_hot = set()
    for _ in range(40):
        g, h, n = Sampler().sample(scores, [greedy, hot, narrow])
        assert g.id == 7, "greedy is unaffected by its neighbours' temperature"
        assert n.id == 7, "top_k=1 keeps only the best token, whatever the temperature"
        seen_hot.add(h.id)
    assert len(seen_hot) > 3, "a hot row samples widely"


def test_a_seed_gives_the_same_tokens_whatever_shares_the_batch():
    scores = torch.randn(1, 50)
    settings = SamplingParams(do_sample=True, temperature=1.0, seed=123)

    def run(batch_size):
        state = RowState(settings, [1], "cpu")
        others = rows(*[SamplingParams(do_sample=True, temperature=1.0)] * (batch_size - 1))
        return [Sampler().sample(scores.repeat(batch_size, 1), [state, *others])[0].id for _ in range(20)]

    assert run(1) == run(3)


def test_unseeded_sampling_rows_get_a_random_seed_that_reproduces_them():
    state = RowState(SamplingParams(do_sample=True, temperature=1.0), [1], "cpu")
    assert state.seed is not None
    again = RowState(SamplingParams(do_sample=True, temperature=1.0, seed=state.seed), [1], "cpu")
    scores = torch.randn(1, 50)
    assert [Sampler().sample(scores, [state])[0].id for _ in range(10)] == [
        Sampler().sample(scores, [again])[0].id for _ in range(10)
    ]
    assert RowState(SamplingParams(), [1], "cpu").seed is None, "greedy needs no seed"


def test_repetition_penalty_uses_the_prompt_and_the_answer():
    scores = logits([2.0, 1.9, 0, 0, 0, 0, 0, 0])
    penalised = rows(SamplingParams(repetition_penalty=2.0), prompt=(0,))[0]
    assert Sampler().sample(scores, [penalised])[0].id == 1, "token 0 is in the prompt: 2.0 / 2 < 1.9"
    state = rows(SamplingParams(repetition_penalty=2.0), prompt=(5,))[0]
    assert Sampler().sample(scores, [state])[0].id == 0
    assert Sampler().sample(scores, [state])[0].id == 1, "now token 0 was generated: penalised"


def test_frequency_and_presence_penalties_follow_openais_formula():
    scores = logits([3.0, 2.0, 0, 0, 0, 0, 0, 0])
    state = rows(SamplingParams(frequency_penalty=0.4, presence_penalty=0.3))[0]
    ids = [Sampler().sample(scores, [state])[0].id for _ in range(4)]
    # token 0 after n uses: 3 - 0.4 n - 0.3 ; token 1 stays 2 until used
    assert ids == [0, 0, 1, 0], ids
    assert state.generated == {0: 3, 1: 1}


def test_logit_bias_adds_to_the_logits():
    scores = logits([3.0, 0, 0, 0, 0, 0, 0, 0])
    assert Sampler().sample(scores, rows(SamplingParams(logit_bias={5: 10.0})))[0].id == 5
    assert Sampler().sample(scores, rows(SamplingParams(logit_bias={0: -100.0})))[0].id != 0


def test_top_p_and_typical_p_use_transformers_warpers():
    scores = logits([5.0, 4.9, -5, -5, -5, -5, -5, -5])
    state = rows(SamplingParams(do_sample=True, temperature=1.0, top_p=0.3, seed=3))[0]
    assert {Sampler().sample(scores, [state])[0].id for _ in range(30)} == {0}
    state = rows(SamplingParams(do_sample=True, temperature=1.0, typical_p=0.9, seed=3))[0]
    assert {Sampler().sample(scores, [state])[0].id for _ in range(30)} <= {0, 1}


@pytest.mark.parametrize(
    "settings,param",
    [
        ({"typical_p": 1.0}, "typical_p"),
        ({"top_logprobs": 21}, "top_logprobs"),
        ({"logit_bias": {99: 1.0}}, "logit_bias"),
        ({"logit_bias": {1: 101.0}}, "logit_bias"),
        ({"frequency_penalty": float("nan")}, "frequency_penalty"),
        ({"temperature": -1.0}, "temperature"),
    ],
)
def test_validation_names_the_parameter(settings, param):
    with pytest.raises(InvalidGenerationParams) as err:
        validate_sampling(SamplingParams(**settings), vocab_size=VOCAB)
    assert err.value.param == param


def test_validation_turns_json_integers_into_floats():
    params = validate_sampling(
        SamplingParams(
            temperature=2,
            top_p=1,
            repetition_penalty=2,
            frequency_penalty=1,
            presence_penalty=-1,
            logit_bias={3: 5},
            do_sample=True,
        ),
        vocab_size=VOCAB,
    )
    for name in ("temperature", "top_p", "repetition_penalty", "frequency_penalty", "presence_penalty"):
        assert type(getattr(params, name)) is float, name
    assert type(params.logit_bias[3]) is float


@pytest.mark.parametrize("temperature", [5e-324, 1e-300, 1e-8])
def test_a_tiny_temperature_samples_the_top_token_instead_of_nan(temperature):
    # found by the fuzzer: logits / 5e-324 overflowed to inf, softmax gave NaN, multinomial raised
    scores = logits([-3.0, 2.0, 1.5, -1.0, 0, 0, 0, 0], [-5.0, -4.0, -6.0, -4.5, -7, -7, -7, -7])
    params = SamplingParams(do_sample=True, temperature=temperature, seed=1)
    choices = Sampler().sample(scores, rows(params, params))
    assert [c.id for c in choices] == [1, 1]
