from otter.test_files import test_case

OK_FORMAT = False

name = "reproducible_sampling"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_same_seed_same_text(sample_with_seed, generator):
    first = sample_with_seed(generator, 'My favourite place is', 3)
    assert isinstance(first, str) and first, 'return the generated text as a non-empty string'
    assert not first.startswith('My favourite place is'), 'return only the new text: pass return_full_text=False'
    again = sample_with_seed(generator, 'My favourite place is', 3)
    assert again == first, f'the same seed gave two texts ({first!r} then {again!r}): seed right before generating, with transformers.set_seed(seed)'

@test_case(points=None, hidden=False)
def test_different_seeds_differ(sample_with_seed, generator):
    texts = {sample_with_seed(generator, 'My favourite place is', s) for s in (1, 2, 3)}
    assert len(texts) > 1, 'three seeds gave the same text: are you sampling (do_sample=True)?'

