# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "best_variant"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_best_variant(best_variant):
    import pandas as pd
    from course_utils.exercises import answered, within
    assert answered(best_variant), 'write best_variant first (its body is still `...`)'
    table = pd.DataFrame({'tokens_per_s': [30.0, 60.0, 90.0], 'prefix_agreement': [1.0, 0.8, 0.4]}, index=['fp32', 'int8', 'int4'])

    def pick(minimum):
        return within(10, best_variant, table.copy(), minimum, hint='an endless loop?')
    picked = pick(0.5)
    assert not isinstance(picked, (int, float)) or isinstance(picked, bool), "return the variant's name (the table's index), not its position or its speed"
    assert picked == 'int8', 'with a minimum of 0.5, pick the fastest of the variants that reach it'
    assert pick(0.0) == 'int4', 'with a minimum of 0, every variant qualifies: pick the fastest'
    assert pick(1.0) == 'fp32', 'an agreement equal to the minimum is enough (>=)'
    assert pick(1.5) is None, 'return None when no variant reaches the minimum'

@test_case(points=None, hidden=True)
def test_best_variant_limits(best_variant):
    import pandas as pd
    from course_utils.exercises import within
    table = pd.DataFrame({'ttft_ms': [50.0, 80.0, 40.0, 90.0], 'prefix_agreement': [0.9, 0.95, 0.3, 0.99], 'size_mb': [141, 543, 86, 538], 'tokens_per_s': [50.0, 40.0, 80.0, 20.0]}, index=['b', 'a', 'd', 'c'])
    before = table.copy()

    def pick(frame, minimum):
        return within(10, best_variant, frame, minimum, hint='an endless loop?')
    assert pick(table, 0.9) == 'b', 'pick by tokens_per_s among the qualifying rows, whatever the row order'
    assert table.equals(before), 'leave the table as it is (sort or filter a copy)'
    assert pick(table, 0.95) == 'a', 'pick by tokens_per_s among the qualifying rows, whatever the row order'
    assert pick(table, -1.0) == 'd', 'a negative minimum lets every variant qualify'
    assert pick(table.loc[['c']], 0.99) == 'c', 'a one-row table whose row qualifies: return its name'
    assert pick(table.iloc[:0], 0.5) is None, 'an empty table: return None'

