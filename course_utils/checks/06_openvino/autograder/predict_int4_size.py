# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_int4_size"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_int4_size(predict_int4_size):
    from course_utils.exercises import answered
    assert answered(predict_int4_size), 'write your prediction first: one letter from the list'
    letter = str(predict_int4_size).strip().strip('()').lower()
    assert letter in ('a', 'b', 'c', 'd'), "answer with one letter: 'a', 'b', 'c' or 'd'"
    assert letter == 'b', "not what the export shows: divide fp32's size by int4's (printed above), then read the explanation below"

