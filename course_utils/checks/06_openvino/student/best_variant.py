from otter.test_files import test_case

OK_FORMAT = False

name = "best_variant"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_best_variant(best_variant):
    import pandas as pd
    table = pd.DataFrame({'tokens_per_s': [30.0, 60.0, 90.0], 'prefix_agreement': [1.0, 0.8, 0.4]}, index=['fp32', 'int8', 'int4'])
    assert best_variant(table, 0.5) == 'int8', 'the fastest among those agreeing enough'
    assert best_variant(table, 0.0) == 'int4'
    assert best_variant(table, 1.0) == 'fp32', 'an agreement equal to the minimum is enough'
    assert best_variant(table, 1.5) is None, 'None when no variant qualifies'

