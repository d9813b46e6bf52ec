# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_ov_config"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_ov_config(predict_ov_config, plain_ov_config):
    from course_utils.exercises import answered
    assert answered(predict_ov_config), 'write your prediction first: one letter from the list'
    letter = str(predict_ov_config).strip().strip('()').lower()
    assert letter in ('a', 'b', 'c', 'd'), "answer with one letter: 'a', 'b', 'c' or 'd'"
    truth = {'a': plain_ov_config == {}, 'b': plain_ov_config == {'PERFORMANCE_HINT': 'LATENCY'}, 'c': plain_ov_config == {'PERFORMANCE_HINT': 'THROUGHPUT'}, 'd': len(plain_ov_config) > 2}
    assert truth[letter], 'not what the cell above printed: compare model.ov_config with your choice'

