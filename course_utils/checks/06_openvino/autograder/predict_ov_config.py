# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_ov_config"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_ov_config(predict_ov_config, plain_ov_config):
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_ov_config, 'predict_ov_config', 'abcd')
    holds = {'a': plain_ov_config == {}, 'b': plain_ov_config == {'PERFORMANCE_HINT': 'LATENCY'}, 'c': plain_ov_config == {'PERFORMANCE_HINT': 'THROUGHPUT'}, 'd': len(plain_ov_config) > 2}
    reveal(letter, next((k for k, v in holds.items() if v), 'none of them'), 'Compare model.ov_config, printed above, with each choice.')

