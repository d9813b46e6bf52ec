# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_echo"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_echo(predict_echo):
    from course_utils.exercises import answered
    assert answered(predict_echo), 'write your prediction first: one letter, e.g. predict_echo = "a"'
    assert isinstance(predict_echo, str), 'write one letter as a string, e.g. predict_echo = "a"'
    choice = predict_echo.strip().strip('().').strip().lower()
    assert choice in {'a', 'b', 'c', 'd', 'e'}, 'answer with one letter from the list, "a" to "e" (as a string)'
    assert choice == 'c', 'that fix works: its row in the table above does not echo. Which row says it echoes?'

