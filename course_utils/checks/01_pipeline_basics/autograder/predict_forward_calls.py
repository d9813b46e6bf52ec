# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_forward_calls"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_forward_call_count(predicted_forward_calls, forward_calls):
    ok_types = (int, float, str)
    assert isinstance(predicted_forward_calls, ok_types) and (not isinstance(predicted_forward_calls, bool)), 'write your prediction as a number, for example predicted_forward_calls = 3'
    try:
        guess = float(str(predicted_forward_calls).strip())
    except ValueError:
        raise AssertionError('write your prediction as a number (digits), for example predicted_forward_calls = 3') from None
    assert guess == len(forward_calls), "not what the experiment counted: read the cell's output. Each call gives one new token; which call reads the prompt, and is there a call after the last token?"

