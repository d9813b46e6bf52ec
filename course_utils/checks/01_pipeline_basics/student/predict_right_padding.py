# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_right_padding"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_padding_prediction(predicted_padding_letter):
    assert isinstance(predicted_padding_letter, str), 'write the letter as a string, for example predicted_padding_letter = "a"'
    letter = predicted_padding_letter.strip().strip('().').lower()
    assert letter in ('a', 'b', 'c'), 'write one of the letters "a", "b" or "c"'
    assert letter == 'b', "not what the experiment shows: compare the short prompt's reply with right and with left padding, and look at which ids its row ends with"

