# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_health_wait"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_health_prediction(health_prediction):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(health_prediction, 'health_prediction', 'abc')
    reveal(letter, 'c', "Compare /health's `end` with its `start` and with the stories' in the table above.")

