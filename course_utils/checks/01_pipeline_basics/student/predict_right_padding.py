# generated from notebooks/masters/01_pipeline_basics.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_right_padding"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_padding_prediction(predicted_padding_letter):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predicted_padding_letter, 'predicted_padding_letter', 'abc')
    reveal(letter, 'b', "Compare the short prompt's reply with right and with left padding, and the ids its row ends with.")

