# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_template"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_template(predict_template):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_template, 'predict_template', 'abcd')
    reveal(letter, 'b', "Compare the two strings the cell above printed: what does the chat template's start?")

