from otter.test_files import test_case

OK_FORMAT = False

name = "group_size"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_group_size(pick_group_size):
    assert pick_group_size(576) == 64, '576 = 64 x 9: 128 does not divide it, 64 does'
    assert pick_group_size(4096) == 128, 'the preferred size when it divides'
    assert pick_group_size(960, preferred=64) == 64
    assert pick_group_size(100) is None, 'no power of two from 16 up divides 100: return None'

@test_case(points=None, hidden=True)
def test_group_size_edges(pick_group_size):
    assert pick_group_size(48) == 16
    assert pick_group_size(2048, preferred=100) == 64, 'at most `preferred`, a power of two'
    assert pick_group_size(8) is None, 'never below 16'

