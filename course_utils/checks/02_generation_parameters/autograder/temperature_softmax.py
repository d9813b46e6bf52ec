from otter.test_files import test_case

OK_FORMAT = False

name = "temperature_softmax"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_sums_to_one(softmax_with_temperature, next_logits):
    import torch
    probs = softmax_with_temperature(next_logits, 0.8)
    assert isinstance(probs, torch.Tensor) and probs.shape == next_logits.shape, 'return a tensor of probabilities with the same shape as the logits'
    assert torch.isclose(probs.sum(), torch.tensor(1.0), atol=0.0001), 'probabilities must sum to 1'

@test_case(points=None, hidden=False)
def test_matches_transformers(softmax_with_temperature, next_logits):
    import torch
    from transformers import TemperatureLogitsWarper
    for t in [0.7, 1.3]:
        expected = TemperatureLogitsWarper(t)(None, next_logits[None])[0].softmax(-1)
        got = softmax_with_temperature(next_logits, t)
        assert torch.allclose(got, expected, atol=1e-05), f'at temperature {t} your distribution differs from the one generate() samples from: divide the logits by the temperature, then take the softmax'

@test_case(points=None, hidden=False)
def test_rejects_zero(softmax_with_temperature, next_logits):
    try:
        softmax_with_temperature(next_logits, 0)
    except ValueError:
        return
    raise AssertionError('temperature 0 should raise ValueError (it would divide by zero)')

@test_case(points=None, hidden=True)
def test_batches_and_extremes(softmax_with_temperature, next_logits):
    import torch
    batch = torch.stack([next_logits, next_logits.flip(0)])
    probs = softmax_with_temperature(batch, 0.25)
    assert torch.allclose(probs.sum(-1), torch.ones(2), atol=0.0001)
    assert probs[0].argmax() == next_logits.argmax()
    flat = softmax_with_temperature(next_logits, 50.0)
    assert flat.max() < next_logits.softmax(-1).max()

