# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_echo"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_echo(predict_echo):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_echo, 'predict_echo', 'abcde')
    reveal(letter, 'c', 'Which row of the table above says it echoes?')

