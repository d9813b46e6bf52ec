# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "sampling_distribution"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_temperature_like_generate(next_token_distribution):
    import torch
    from transformers import TemperatureLogitsWarper
    logits = torch.randn(300, generator=torch.Generator().manual_seed(1)) * 3
    before = logits.clone()
    for t in (0.6, 1.7):
        expected = TemperatureLogitsWarper(t)(None, before[None])[0].softmax(-1)
        probs = next_token_distribution(logits, t)
        assert torch.equal(logits, before), "do not change the logits you were given: `logits / temperature` makes a new tensor, `logits /= temperature` changes the caller's"
        assert isinstance(probs, torch.Tensor) and probs.shape == logits.shape, 'return a tensor of probabilities shaped like the logits'
        assert probs.is_floating_point(), 'return floating-point probabilities'
        total = float(probs.double().sum())
        assert abs(total - 1) < 0.0001, f'at temperature {t} your probabilities add up to {total:.4f}, not 1: take the softmax over the last dimension (dim=-1)'
        assert torch.allclose(probs.float(), expected, atol=1e-05), f'at temperature {t} your probabilities differ from the ones generate() samples from: divide the logits by the temperature, then take the softmax'

@test_case(points=None, hidden=False)
def test_zero_is_greedy_negative_raises(next_token_distribution):
    import torch
    logits = torch.randn(300, generator=torch.Generator().manual_seed(2)) * 3
    best = int(logits.argmax())
    for zero in (0, 0.0):
        try:
            probs = next_token_distribution(logits.clone(), zero)
        except ValueError:
            raise AssertionError('temperature 0 raised ValueError: in this course 0 means greedy decoding, so return the greedy distribution') from None
        except ZeroDivisionError:
            raise AssertionError('temperature 0 divided by zero: check for 0 before dividing; it means greedy decoding') from None
        assert isinstance(probs, torch.Tensor) and probs.shape == logits.shape, 'at temperature 0, too, return a tensor of probabilities shaped like the logits'
        assert probs.is_floating_point(), 'return floating-point probabilities (one_hot gives integers: convert with .float())'
        assert torch.isfinite(probs).all(), 'temperature 0 gave NaN or inf (a division by 0): check for 0 before dividing; it means greedy decoding'
        others = float(probs.double().sum() - probs[best].double())
        assert abs(float(probs[best]) - 1) < 1e-06 and abs(others) < 1e-06, 'temperature 0 means greedy decoding: probability 1 for the most likely token, 0 for every other'
    for negative in (-0.5, -2):
        try:
            next_token_distribution(logits.clone(), negative)
        except ValueError:
            continue
        except Exception as err:
            raise AssertionError(f'a negative temperature should raise ValueError; yours raised {type(err).__name__}') from None
        raise AssertionError('a negative temperature should raise ValueError (dividing by it would make the least likely token the most likely)')

@test_case(points=None, hidden=False)
def test_top_k_like_generate(next_token_distribution):
    import torch
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper
    logits = torch.randn(300, generator=torch.Generator().manual_seed(3)) * 3
    for k in (1, 7, 60):
        probs = next_token_distribution(logits.clone(), 0.8, top_k=k)
        assert isinstance(probs, torch.Tensor) and probs.shape == logits.shape, 'with top_k, too, return a tensor of probabilities shaped like the logits'
        kept = int((probs > 0).sum())
        assert kept == k, f'with top_k={k} your distribution gives {kept} tokens a probability above 0: keep only the k most likely tokens, the others get probability 0'
        scaled = TemperatureLogitsWarper(0.8)(None, logits[None])
        expected = TopKLogitsWarper(k)(None, scaled)[0].softmax(-1)
        assert torch.allclose(probs.float(), expected, atol=1e-05), f"with top_k={k} the kept tokens' probabilities differ from generate()'s: give the other tokens the score -inf, then take the softmax, so that the kept ones add up to 1"
    probs = next_token_distribution(logits.clone(), 0.8, top_k=0)
    assert int((probs > 0).sum()) == logits.numel(), 'top_k=0 turns the cut off (generate() skips it): every token keeps a probability above 0'

@test_case(points=None, hidden=True)
def test_batches_limits_and_no_warpers(next_token_distribution):
    import torch
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper
    batch = torch.randn(3, 300, generator=torch.Generator().manual_seed(4)) * 3
    used = []
    originals = {cls: cls.__call__ for cls in (TemperatureLogitsWarper, TopKLogitsWarper)}

    def spying(cls):

        def call(self, *args, **kwargs):
            used.append(cls.__name__)
            return originals[cls](self, *args, **kwargs)
        return call
    for cls in originals:
        cls.__call__ = spying(cls)
    try:
        rows = next_token_distribution(batch.clone(), 0.5, top_k=7)
    finally:
        for cls, call in originals.items():
            cls.__call__ = call
    assert not used, f"build it with torch operations: the exercise asks you not to call transformers' warpers (you used {', '.join(sorted(set(used)))})"
    expected = TopKLogitsWarper(7)(None, TemperatureLogitsWarper(0.5)(None, batch)).softmax(-1)
    assert isinstance(rows, torch.Tensor) and rows.shape == batch.shape and torch.allclose(rows.float(), expected, atol=1e-05), 'for a batch of logits (one row per sequence) each row is a distribution of its own: work along the last dimension (dim=-1), for the softmax and for top-k'
    tiny = next_token_distribution(batch[0].clone(), 0.0001)
    assert torch.isfinite(tiny).all() and float(tiny[batch[0].argmax()]) > 0.99, 'at temperature 0.0001 your probabilities are NaN or spread out: use torch.softmax, which subtracts the largest score first so that huge scores do not overflow'
    try:
        wide = next_token_distribution(batch[0].clone(), 1.0, top_k=10000)
    except Exception as err:
        raise AssertionError(f'a top_k larger than the vocabulary keeps every token (transformers caps k at the vocabulary size); yours raised {type(err).__name__}') from None
    assert torch.allclose(wide.float(), batch[0].softmax(-1), atol=1e-05), 'a top_k larger than the vocabulary keeps every token (transformers caps k at the vocabulary size)'
    greedy = next_token_distribution(batch.clone(), 0, top_k=5)
    assert torch.equal(greedy.float().argmax(-1), batch.argmax(-1)) and torch.allclose(greedy.float().amax(-1), torch.ones(3)), "temperature 0 is greedy for every row of a batch, whatever top_k says: probability 1 for each row's most likely token"
    try:
        next_token_distribution(batch[0].clone(), 1.0, top_k=-3)
    except ValueError:
        return
    raise AssertionError('a negative top_k should raise ValueError (0 keeps every token)')

