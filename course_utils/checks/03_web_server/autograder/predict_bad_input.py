# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_bad_input"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predicted_statuses(predicted_statuses):
    from course_utils.exercises import prediction_numbers, reveal
    codes = prediction_numbers(predicted_statuses, 'predicted_statuses', 2, low=100, high=599)
    reveal(codes, (500.0, 422.0), 'Read the status the experiment printed for -1 and for ten.')

