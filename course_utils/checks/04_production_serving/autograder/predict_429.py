# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_429"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_429(refused_wait):
    from course_utils.exercises import answered
    assert answered(refused_wait), 'write your prediction first: one letter, "a", "b" or "c"'
    assert isinstance(refused_wait, str) and refused_wait.strip().strip('()').lower() in ('a', 'b', 'c'), 'write one letter in a string: "a", "b" or "c"'
    assert refused_wait.strip().strip('()').lower() == 'b', 'not what happens: compare the times of the 429s and the 200s above, then read why below'

