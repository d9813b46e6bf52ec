# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_best_batch_size"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_best_batch_size(predicted_best_batch_size, quick_batch):
    assert not isinstance(predicted_best_batch_size, bool), 'write a batch size: 1, 4 or 16'
    try:
        guess = float(str(predicted_best_batch_size).strip())
    except ValueError:
        raise AssertionError('write the batch size as a number: 1, 4 or 16') from None
    assert guess in (1, 4, 16), 'write one of the batch sizes that were measured: 1, 4 or 16'
    best = max(quick_batch, key=quick_batch.get)
    assert guess == best, "not what your machine measured: the experiment's last line names the batch size with the most tokens/s. Why would several prompts per forward pass cost little more than one?"

