# generated from notebooks/masters/07_vllm.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "capacity"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_capacity_on_new_rows(capacity):
    from course_utils.exercises import within

    def row(server, rate, p95, mode='open', errors=0, refused=0, stalled=False):
        return {'server': server, 'mode': mode, 'offered_rate': rate, 'latency_p95_s': p95, 'errors': errors, 'refused': refused, 'stalled': stalled, 'tokens_per_s': 10 * (rate or 1)}
    rows = [row('a', 1.0, 2.0), row('a', 2.0, 6.0), row('b', 1.0, 3.0), row('b', 2.0, 4.5), row('a', None, 0.5, mode='closed')]
    got = within(5, capacity, rows, 5.0, hint='does your function loop forever?')
    assert got is not None, 'a server meets a 5 s target at 2 requests/s: a row was missed'
    assert isinstance(got, tuple) and len(got) == 2, 'return a tuple (server, rate)'
    assert got == ('b', 2.0), "not the highest rate at which a server met the target: compare each open-loop row's p95 latency with the target"
    assert within(5, capacity, rows, 1.0) is None, 'return None when no open-loop row meets the target (a closed-loop row has no arrival rate: it does not count)'
    assert within(5, capacity, rows, 2.5) == ('a', 1.0), 'with a 2.5 s target only one row meets it: at 1 request/s; do not count closed-loop rows (their rate is not an arrival rate)'

