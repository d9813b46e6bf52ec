# generated from notebooks/masters/08_structured_output.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_right"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_right(predict_right, right_count):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_right, 'predict_right', 'abc')
    reveal(letter, 'a' if right_count == 8 else 'b' if right_count >= 4 else 'c', 'Count the True in the right column.')

