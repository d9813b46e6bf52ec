# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "top_p_by_hand"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_nucleus_like_generate(top_p_filter):
    import torch
    from transformers import TopPLogitsWarper
    logits = torch.randn(400, generator=torch.Generator().manual_seed(5)) * 2
    before = logits.clone()
    cumulative = logits.softmax(-1).sort(descending=True).values.cumsum(-1)
    for n in (4, 30):
        top_p = float(cumulative[n - 2] + cumulative[n - 1]) / 2
        got = top_p_filter(logits, top_p)
        assert torch.equal(logits, before), 'do not change the logits you were given: work on logits.clone()'
        assert isinstance(got, torch.Tensor) and got.shape == logits.shape, 'return a tensor shaped like the logits'
        kept = torch.isfinite(got)
        expected = torch.isfinite(TopPLogitsWarper(top_p)(None, logits[None])[0])
        assert int(kept.sum()) == int(expected.sum()), f'top_p={top_p:.3f}: you keep {int(kept.sum())} tokens. Keep the most likely tokens until their probabilities add up to at least top_p, the token that reaches it included'
        assert torch.equal(kept, expected), 'you keep the right number of tokens but not the right ones: keep the most likely, each in its original place (do not return the sorted logits)'
        assert torch.equal(got[kept], logits[kept]), 'kept tokens must keep their original logits (not probabilities, not rescaled)'
        assert torch.isneginf(got[~kept]).all(), 'removed tokens must have the value -inf'

@test_case(points=None, hidden=False)
def test_top_p_limits(top_p_filter):
    import torch
    logits = torch.randn(400, generator=torch.Generator().manual_seed(6)) * 2
    try:
        everything = top_p_filter(logits, 1.0)
    except ValueError:
        raise AssertionError("top_p=1 is allowed (the course's rule is 0 < top_p <= 1) and keeps every token") from None
    assert isinstance(everything, torch.Tensor) and torch.isfinite(everything).all(), 'top_p=1 keeps every token (generate() does not filter at all at 1.0)'
    assert everything.data_ptr() != logits.data_ptr(), 'return a copy (logits.clone()), not the tensor you were given, also when nothing is removed'
    one = top_p_filter(logits, 1e-06)
    assert int(torch.isfinite(one).sum()) == 1 and torch.isfinite(one[logits.argmax()]), 'a tiny top_p keeps exactly one token, the most likely: the nucleus is never empty'
    for bad in (0, -0.1, 1.5):
        try:
            top_p_filter(logits, bad)
        except ValueError:
            continue
        raise AssertionError(f'top_p={bad} should raise ValueError: top_p must be > 0 and <= 1')

@test_case(points=None, hidden=True)
def test_confident_model_and_no_warper(top_p_filter):
    import torch
    from transformers import TopPLogitsWarper
    confident = torch.tensor([1.0, 7.0, 2.0, 0.5, 0.0, -1.0, 2.5])
    used = []
    original = TopPLogitsWarper.__call__

    def spy(self, *args, **kwargs):
        used.append(True)
        return original(self, *args, **kwargs)
    TopPLogitsWarper.__call__ = spy
    try:
        alone = top_p_filter(confident, 0.9)
    finally:
        TopPLogitsWarper.__call__ = original
    assert not used, 'build it with torch operations: the exercise asks you not to call TopPLogitsWarper'
    assert torch.isfinite(alone).tolist() == [False, True, False, False, False, False, False], 'when the most likely token alone holds top_p, keep it alone (and mind that the most likely token is not always the first one)'
    cumulative = confident.softmax(-1).sort(descending=True).values.cumsum(-1)
    top_p = float(cumulative[1] + cumulative[2]) / 2
    kept = torch.isfinite(top_p_filter(confident, top_p))
    assert kept.tolist() == [False, True, True, False, False, False, True], 'with a confident model the nucleus is small but must still reach top_p: keep the most likely tokens until their probabilities add up to at least top_p'
    double = torch.randn(200, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    top_p = float(double.softmax(-1).sort(descending=True).values.cumsum(-1)[9:11].mean())
    assert int(torch.isfinite(top_p_filter(double, top_p)).sum()) == 11, "float64 logits must work too (use the logits' own dtype and device)"

