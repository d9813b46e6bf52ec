# generated from notebooks/masters/07_vllm.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_default_temperature"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_default_temperature(default_temperature, default_answers):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(default_temperature, 'default_temperature', 'abc')
    if default_answers is None:
        print('vLLM did not run here, so there is no experiment to compare with; the explanation below says what happens. (1 point for predicting.)')
        return
    failed = any((a.startswith('HTTP ') for a in default_answers))
    truth = 'c' if failed else 'a' if default_answers[0] == default_answers[1] else 'b'
    reveal(letter, truth, 'Compare the two answers the experiment printed.')

