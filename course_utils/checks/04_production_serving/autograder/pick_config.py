# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "pick_config"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_picks_the_fastest_acceptable(pick_config):
    from course_utils.exercises import answered
    assert answered(pick_config), 'write `pick_config` first'
    rows = [{'server': 'a', 'clients': 16, 'errors': 0, 'tokens_per_s': 300.0, 'latency_p95_s': 9.0}, {'server': 'b', 'clients': 16, 'errors': 0, 'tokens_per_s': 200.0, 'latency_p95_s': 4.0}, {'server': 'c', 'clients': 16, 'errors': 2, 'tokens_per_s': 500.0, 'latency_p95_s': 1.0}, {'server': 'd', 'clients': 16, 'errors': 0, 'tokens_per_s': 50.0, 'latency_p95_s': 2.0}]
    got = pick_config(rows, 10.0)
    assert not isinstance(got, dict), "return the row's `server` (a string), not the row"
    assert got == 'a', 'among the rows without errors within the limit, return the one with the most tokens/s'
    assert pick_config(rows, 5.0) == 'b', 'rows whose p95 is above the limit do not qualify'
    assert pick_config(rows, 0.5) is None, 'return None when no row qualifies'

@test_case(points=None, hidden=True)
def test_limits_errors_and_missing_latencies(pick_config):
    rows = [{'server': 'x', 'clients': 1, 'errors': 1, 'tokens_per_s': 90.0, 'latency_p95_s': 1.0}, {'server': 'y', 'clients': 1, 'errors': 0, 'tokens_per_s': 10.0, 'latency_p95_s': 3.0}, {'server': 'z', 'clients': 4, 'errors': 0, 'tokens_per_s': 0.0, 'latency_p95_s': None, 'runs': 3}]
    try:
        unknown = pick_config(rows[2:], 100.0)
    except TypeError:
        raise AssertionError('a row whose p95 is None (no request finished) does not qualify: skip it, do not compare None with a number') from None
    assert unknown is None, 'a row whose p95 is None (no request finished) does not qualify'
    assert pick_config(rows, 3.0) == 'y', 'a p95 equal to the limit qualifies (at most); a row with errors never does'
    assert pick_config(rows, 2.999) is None, 'None when no row without errors is within the limit'
    assert pick_config([], 3.0) is None, 'no rows at all: None'
    many = [{'server': f's{i}', 'clients': i, 'errors': 0, 'tokens_per_s': float(t), 'latency_p95_s': p} for i, (t, p) in enumerate([(40, 0.5), (90, 1.9), (70, 1.0), (120, 2.1)])]
    assert pick_config(many, 2.0) == 's1', 'the most tokens/s wins, wherever its row is in the list'

