# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_stop"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_stop(predict_stop):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_stop, 'predict_stop', 'abcd')
    reveal(letter, 'd', 'Does invoke() obey either stop in the table above? stream() reads `stop` as token names: is "\\n" the name of a token?')

