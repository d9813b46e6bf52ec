# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_kv"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_kv(kv_vs_weights):
    from course_utils.exercises import answered
    assert answered(kv_vs_weights), 'write your prediction first: one letter, "a", "b" or "c"'
    assert isinstance(kv_vs_weights, str) and kv_vs_weights.strip().strip('()').lower() in ('a', 'b', 'c'), 'write one letter in a string: "a", "b" or "c"'
    assert kv_vs_weights.strip().strip('()').lower() == 'c', 'not what the arithmetic above gives: compare the two sizes it printed, then read why below'

