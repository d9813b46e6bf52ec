from otter.test_files import test_case

OK_FORMAT = False

name = "pick_config"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_picks_the_fastest_acceptable(pick_config):
    rows = [{'server': 'a', 'clients': 16, 'errors': 0, 'tokens_per_s': 300.0, 'latency_p95_s': 9.0}, {'server': 'b', 'clients': 16, 'errors': 0, 'tokens_per_s': 200.0, 'latency_p95_s': 4.0}, {'server': 'c', 'clients': 16, 'errors': 2, 'tokens_per_s': 500.0, 'latency_p95_s': 1.0}, {'server': 'd', 'clients': 16, 'errors': 0, 'tokens_per_s': 50.0, 'latency_p95_s': 2.0}]
    assert pick_config(rows, 10.0) == 'a', 'the most tokens per second within the latency limit'
    assert pick_config(rows, 5.0) == 'b', 'rows above the p95 limit do not qualify'
    assert pick_config(rows, 0.5) is None, 'None when nothing qualifies'

@test_case(points=None, hidden=True)
def test_errors_and_limits_exactly(pick_config):
    rows = [{'server': 'x', 'clients': 1, 'errors': 1, 'tokens_per_s': 90.0, 'latency_p95_s': 1.0}, {'server': 'y', 'clients': 1, 'errors': 0, 'tokens_per_s': 10.0, 'latency_p95_s': 3.0}]
    assert pick_config(rows, 3.0) == 'y', 'a p95 equal to the limit qualifies; errors never do'
    assert pick_config([], 3.0) is None

