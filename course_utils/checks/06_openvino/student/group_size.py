# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "group_size"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_group_size(pick_group_size):
    from course_utils.exercises import answered, within
    assert answered(pick_group_size), 'write pick_group_size first (its body is still `...`)'

    def pick(*args, **kwargs):
        return within(10, pick_group_size, *args, **kwargs, hint='does your loop end? halve the size each time')
    assert pick([576, 1536]) == 64, '[576, 1536]: 128 does not divide 576; try the next power of two down'
    got = pick([4096, 11008])
    assert not isinstance(got, (int, float)) or got <= 128, 'never above `preferred`'
    assert got == 128, 'when `preferred` divides every size, return `preferred` itself'
    assert pick([960, 2560], preferred=64) == 64, 'never above `preferred`'
    assert pick([100]) is None, 'no power of two from 16 up divides 100: return None'
    assert pick([576, 1536, 800]) == 32, "the size must divide every layer's size, not only the first"

