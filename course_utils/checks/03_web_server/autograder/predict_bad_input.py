# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_bad_input"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predicted_statuses(predicted_statuses):
    from course_utils.exercises import answered
    assert answered(predicted_statuses), 'write your prediction first: predicted_statuses = (status for -1, status for ten)'
    assert isinstance(predicted_statuses, (tuple, list)) and len(predicted_statuses) == 2, 'write two status codes in a tuple, e.g. (200, 200): the first for -1, the second for ten'
    codes = []
    for code in predicted_statuses:
        if isinstance(code, str) and code.strip().isdigit():
            code = int(code)
        assert isinstance(code, int) and (not isinstance(code, bool)) and (100 <= code <= 599), 'each status code is a number from 100 to 599, such as 200 or 404'
        codes.append(code)
    assert codes[0] == 500, 'max_new_tokens=-1 does not get the status you predicted: read what the experiment printed for -1, then the explanation below the check'
    assert codes[1] == 422, 'max_new_tokens=ten does not get the status you predicted: read what the experiment printed for ten, then the explanation below the check'

