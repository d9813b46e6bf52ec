# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_one_lock"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_one_lock(one_lock_16):
    from course_utils.exercises import answered
    assert answered(one_lock_16), 'write your prediction first: one letter, "a", "b" or "c"'
    assert isinstance(one_lock_16, str) and one_lock_16.strip().strip('()').lower() in ('a', 'b', 'c'), 'write one letter in a string: "a", "b" or "c"'
    assert one_lock_16.strip().strip('()').lower() == 'a', 'not what happens: compare the one-lock rows at 1 and 16 clients above, then read why below the check'

