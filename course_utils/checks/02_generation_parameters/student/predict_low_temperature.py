# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_low_temperature"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_low_temperature(predict_low_temperature):
    from course_utils.exercises import answered
    assert answered(predict_low_temperature), "write your prediction first: one letter in quotes, for example predict_low_temperature = 'a'"
    assert isinstance(predict_low_temperature, str) and predict_low_temperature.strip().strip('().').strip().lower() in {'a', 'b', 'c', 'd'}, 'answer with one of the letters a, b, c or d, as a string in quotes'
    assert predict_low_temperature.strip().strip('().').strip().lower() == 'b', "that is not what the experiment shows: compare the most likely token's probability at T = 0.05 and at T = 1 in its output, then read the explanation below the check"

