# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "read_metrics"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_tgi_page(read_metrics):
    from course_utils.exercises import answered
    assert answered(read_metrics), 'write `read_metrics` first'
    page = '# HELP tgi_request_count Total number of requests\n# TYPE tgi_request_count counter\ntgi_request_count 7\n# TYPE tgi_request_failure counter\ntgi_request_failure{err="validation"} 2\ntgi_request_failure{err="overloaded"} 3\n# TYPE tgi_queue_size gauge\ntgi_queue_size 4\n# TYPE tgi_request_duration histogram\ntgi_request_duration_bucket{le="1.0"} 1\ntgi_request_duration_bucket{le="+Inf"} 2\ntgi_request_duration_sum 5.0\ntgi_request_duration_count 2\n'
    got = read_metrics(page)
    assert isinstance(got, dict), 'return a dict'
    missing = {'requests', 'failures', 'overloaded', 'mean_duration_s', 'queue_size'} - set(got)
    assert not missing, f'the dict lacks {sorted(missing)}'
    assert got['requests'] == 7, "requests: the value of the counter tgi_request_count (TGI's page)"
    assert got['failures'] == 5, 'failures: add tgi_request_failure over every `err` label'
    assert got['overloaded'] == 3, 'overloaded: the failure whose label is err="overloaded"'
    assert got['queue_size'] == 4, 'queue_size: the value of the gauge tgi_queue_size'
    assert got['mean_duration_s'] == 2.5, "mean_duration_s: tgi_request_duration's _sum divided by its _count"

@test_case(points=None, hidden=False)
def test_this_servers_page(read_metrics):
    import httpx
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path
    from course_utils.server import BackgroundServer, Engine, create_app
    with BackgroundServer(create_app(Engine(str(tiny_model_path())))) as server:
        try:
            empty = within(10, read_metrics, httpx.get(f'{server.url}/metrics').text, hint='read_metrics never returned')
        except ZeroDivisionError:
            raise AssertionError('before any request the duration count is 0: mean_duration_s is None, not a division by zero') from None
        for body in [{'inputs': 'Hi', 'parameters': {'max_new_tokens': 2}}, {'inputs': ''}, {'inputs': ' '}]:
            httpx.post(f'{server.url}/generate', json=body, timeout=30)
        got = within(10, read_metrics, httpx.get(f'{server.url}/metrics').text, hint='read_metrics never returned')
    assert empty['requests'] == 0, "before any request, requests is 0 on this server's page (is a `_created` timestamp read as a count?)"
    assert empty['mean_duration_s'] is None, 'no request yet: mean_duration_s is None, not a division by zero'
    assert empty['failures'] == 0 and empty['overloaded'] == 0, 'no failures yet: 0'
    assert got['requests'] == 3, "requests on this server's page: the number of requests the check sent (here counters end in _total, and each has a _created timestamp)"
    assert got['failures'] == 2 and got['overloaded'] == 0, 'failures on this server\'s page: the check\'s empty prompts were refused, none of them err="overloaded"'
    assert got['mean_duration_s'] is not None and got['mean_duration_s'] > 0, "mean_duration_s on this server's page: the duration's _sum divided by its _count"
    assert got['queue_size'] == 0, 'queue_size: nothing is waiting'

@test_case(points=None, hidden=True)
def test_pages_without_failures_or_requests(read_metrics):
    tgi_start = '# TYPE tgi_request_count counter\ntgi_request_count 0\n# TYPE tgi_queue_size gauge\ntgi_queue_size 2\n# TYPE tgi_request_duration histogram\ntgi_request_duration_bucket{le="+Inf"} 0\ntgi_request_duration_sum 0\ntgi_request_duration_count 0\n'
    got = read_metrics(tgi_start)
    assert got['failures'] == 0 and got['overloaded'] == 0, 'a page without any tgi_request_failure line: failures and overloaded are 0'
    assert got['mean_duration_s'] is None, 'a duration count of 0: mean_duration_s is None'
    assert got['queue_size'] == 2 and got['requests'] == 0, 'a TGI page before any request: requests from tgi_request_count, queue_size from tgi_queue_size'
    ours = '# HELP tgi_request_count_total Requests received\n# TYPE tgi_request_count_total counter\ntgi_request_count_total 9.0\n# HELP tgi_request_count_created Requests received\n# TYPE tgi_request_count_created gauge\ntgi_request_count_created 1.7e+09\n# HELP tgi_request_failure_total Failed requests, by kind\n# TYPE tgi_request_failure_total counter\ntgi_request_failure_total{err="overloaded"} 4.0\ntgi_request_failure_total{err="validation"} 1.0\n# HELP tgi_request_failure_created Failed requests, by kind\n# TYPE tgi_request_failure_created gauge\ntgi_request_failure_created{err="overloaded"} 1.7e+09\ntgi_request_failure_created{err="validation"} 1.7e+09\n# TYPE tgi_queue_size gauge\ntgi_queue_size 5.0\n# TYPE tgi_request_duration histogram\ntgi_request_duration_bucket{le="+Inf"} 4.0\ntgi_request_duration_count 4.0\ntgi_request_duration_sum 6.0\n'
    got = read_metrics(ours)
    assert got['requests'] == 9, 'requests: the count, not the _created timestamp'
    assert got['failures'] == 5 and got['overloaded'] == 4, 'failures and overloaded: the _total samples, not the _created timestamps'
    assert got['mean_duration_s'] == 1.5 and got['queue_size'] == 5, "mean_duration_s: the duration's _sum divided by its _count; queue_size: the gauge's value"

