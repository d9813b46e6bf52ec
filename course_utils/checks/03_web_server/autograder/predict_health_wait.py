# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_health_wait"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_health_prediction(health_prediction):
    from course_utils.exercises import answered
    assert answered(health_prediction), 'write your prediction first: health_prediction = "a", "b" or "c"'
    assert isinstance(health_prediction, str), 'write one letter as a string, e.g. "a"'
    letter = health_prediction.strip().strip('().').strip().lower()
    assert letter in ('a', 'b', 'c'), 'write one of the letters "a", "b" or "c"'
    assert letter != 'a', '/health does no work, yet it did not answer at once: compare its `end` with its `start` in the table above, then read the explanation below'
    assert letter == 'c', "/health did not answer together with the first story: compare its `end` with the stories' in the table above, then read the explanation below"

