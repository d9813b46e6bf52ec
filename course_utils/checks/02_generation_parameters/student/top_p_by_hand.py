from otter.test_files import test_case

OK_FORMAT = False

name = "top_p_by_hand"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_keeps_the_most_likely_token(top_p_filter, next_logits):
    import torch
    got = top_p_filter(next_logits, 0.5)
    assert isinstance(got, torch.Tensor) and got.shape == next_logits.shape, 'return a tensor shaped like the logits'
    assert torch.isfinite(got[next_logits.argmax()]), 'the most likely token must always survive'

@test_case(points=None, hidden=False)
def test_matches_transformers_top_p(top_p_filter, next_logits):
    import torch
    from transformers import TopPLogitsWarper
    for p in [0.5, 0.9]:
        expected = TopPLogitsWarper(p)(None, next_logits[None])[0]
        got = top_p_filter(next_logits, p)
        kept, expected_kept = (torch.isfinite(got), torch.isfinite(expected))
        assert int(kept.sum()) == int(expected_kept.sum()), f'top_p={p}: transformers keeps {int(expected_kept.sum())} tokens, you keep {int(kept.sum())}: sort by probability, keep tokens until their cumulative probability reaches top_p'
        assert kept.all() or next_logits[kept].min() >= next_logits[~kept].max(), 'the kept tokens must be the most likely ones'
        assert torch.equal(got[kept], next_logits[kept]), 'kept tokens must keep their original logits'
        assert torch.isneginf(got[~kept]).all(), 'removed tokens must have the value -inf'

