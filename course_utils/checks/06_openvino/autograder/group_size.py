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

@test_case(points=None, hidden=True)
def test_group_size_limits(pick_group_size):
    from course_utils.exercises import within

    def pick(*args, **kwargs):
        return within(10, pick_group_size, *args, **kwargs, hint='does your loop end? halve the size each time')
    assert pick([4096, 14336], preferred=256) == 256, '`preferred` can be above 128: start from it'
    assert pick([3072, 8192], preferred=1024) == 1024, '`preferred` can be large: start from it'
    assert pick([2048], preferred=100) == 64, '`preferred` need not be a power of two: start from the largest power of two below it'
    assert pick([576], preferred=96) == 64, '96 is not a power of two: start from 64, the largest below it'
    assert pick([576, 1536], preferred=192) == 64, 'a group size is a power of two, even if `preferred` fits'
    assert pick([48]) == 16, '16 is allowed'
    assert pick([8]) is None, 'never below 16: return None'
    assert pick([576], preferred=8) is None, 'with `preferred` below 16 there is no valid size: return None'
    assert pick([576, 1000]) is None, 'no power of two from 16 up divides 1000: return None'

