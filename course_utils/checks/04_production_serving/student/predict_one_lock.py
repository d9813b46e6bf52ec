# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_one_lock"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_one_lock(one_lock_16):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(one_lock_16, 'one_lock_16', 'abc')
    reveal(letter, 'a', 'Compare the one-lock rows at 1 and 16 clients above.')

