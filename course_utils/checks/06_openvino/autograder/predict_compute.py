# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_compute"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_compute(predict_compute, default_compute):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_compute, 'predict_compute', 'abc')
    compiled = 'b' if 'bfloat16' in default_compute else 'c' if 'float16' in default_compute else 'a'
    reveal(letter, compiled, 'Read INFERENCE_PRECISION_HINT in the cell above.')

