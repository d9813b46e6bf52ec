# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_kv"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_kv(kv_vs_weights):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(kv_vs_weights, 'kv_vs_weights', 'abc')
    reveal(letter, 'c', 'Compare the two sizes the arithmetic above printed.')

