# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_template"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_template(predict_template):
    from course_utils.exercises import answered
    assert answered(predict_template), 'write your prediction first: one letter, e.g. predict_template = "a"'
    assert isinstance(predict_template, str), 'write one letter as a string, e.g. predict_template = "a"'
    choice = predict_template.strip().strip('().').strip().lower()
    assert choice in {'a', 'b', 'c', 'd'}, 'answer with one letter from the list, "a" to "d"'
    assert choice == 'b', "compare the two strings the cell above printed: what does the chat template's start?"

