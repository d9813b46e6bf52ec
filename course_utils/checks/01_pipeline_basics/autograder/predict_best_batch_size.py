# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_best_batch_size"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_best_batch_size(predicted_best_batch_size, quick_batch):
    from course_utils.exercises import prediction_number, reveal
    guess = prediction_number(predicted_best_batch_size, 'predicted_best_batch_size', allowed=(1, 4, 16))
    reveal(guess, float(max(quick_batch, key=quick_batch.get)), "The experiment's last line names the batch size with the most tokens/s on your machine.")

