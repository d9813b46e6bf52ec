# generated from notebooks/masters/08_structured_output.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_plain_valid"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_plain_valid(predict_plain_valid, plain_valid):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_plain_valid, 'predict_plain_valid', 'abc')
    reveal(letter, 'a' if plain_valid <= 2 else 'b' if plain_valid <= 5 else 'c', 'Count the True in the valid column.')

