# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_blocking_kinds"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_blocking_kinds(blocking_kinds):
    from course_utils.exercises import prediction_choices, reveal
    letters = prediction_choices(blocking_kinds, 'blocking_kinds', 'abc')
    reveal(letters, {'a'}, "Look at each kind's row in the table above: did /health wait behind it?")

