# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_low_temperature"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_low_temperature(predict_low_temperature):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_low_temperature, 'predict_low_temperature', 'abcd')
    reveal(letter, 'b', "Compare the most likely token's probability at T = 0.05 and at T = 1.")

