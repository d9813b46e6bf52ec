# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_int4_size"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_int4_size(predict_int4_size):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_int4_size, 'predict_int4_size', 'abcd')
    reveal(letter, 'b', "Divide fp32's size by int4's (printed above).")

