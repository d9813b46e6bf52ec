# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_stop"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_stop(predict_stop):
    from course_utils.exercises import answered
    assert answered(predict_stop), 'write your prediction first: one letter, e.g. predict_stop = "a"'
    assert isinstance(predict_stop, str), 'write one letter as a string, e.g. predict_stop = "a"'
    choice = predict_stop.strip().strip('().').strip().lower()
    assert choice in {'a', 'b', 'c', 'd'}, 'answer with one letter from the list, "a" to "d"'
    assert choice not in {'a', 'b'}, 'look at the table above: does invoke() obey either stop? (HuggingFacePipeline._generate never reads `stop`)'
    assert choice == 'd', 'stream() does read `stop`, but as token names (next cell): is "\\n" the name of a token?'

