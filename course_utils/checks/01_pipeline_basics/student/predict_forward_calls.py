# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_forward_calls"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_forward_call_count(predicted_forward_calls, forward_calls):
    from course_utils.exercises import prediction_number, reveal
    guess = prediction_number(predicted_forward_calls, 'predicted_forward_calls')
    reveal(guess, float(len(forward_calls)), 'Each call gives one new token: which call reads the prompt, and is there a call after the last token?')

