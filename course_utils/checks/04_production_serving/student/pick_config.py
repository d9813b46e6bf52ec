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

