# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_429"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_429(refused_wait):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(refused_wait, 'refused_wait', 'abc')
    reveal(letter, 'b', 'Compare the times of the 429s and the 200s above.')

