from otter.test_files import test_case

OK_FORMAT = False

name = "read_metrics"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_tgi_page(read_metrics):
    page = '# TYPE tgi_request_count counter\ntgi_request_count 7\n# TYPE tgi_request_failure counter\ntgi_request_failure{err="validation"} 2\ntgi_request_failure{err="overloaded"} 1\n# TYPE tgi_queue_size gauge\ntgi_queue_size 3\n# TYPE tgi_request_duration histogram\ntgi_request_duration_bucket{le="1.0"} 2\ntgi_request_duration_bucket{le="+Inf"} 4\ntgi_request_duration_sum 10.0\ntgi_request_duration_count 4\n'
    got = read_metrics(page)
    assert got['requests'] == 7 and got['queue_size'] == 3
    assert got['failures'] == 3, 'add the failures of every `err` label'
    assert got['mean_duration_s'] == 2.5, 'mean duration: sum / count'

@test_case(points=None, hidden=False)
def test_this_servers_page(read_metrics):
    import httpx
    from course_utils.models import tiny_model_path
    from course_utils.server import BackgroundServer, Engine, create_app
    with BackgroundServer(create_app(Engine(str(tiny_model_path())))) as server:
        empty = read_metrics(httpx.get(f'{server.url}/metrics').text)
        for body in [{'inputs': 'Hi', 'parameters': {'max_new_tokens': 2}}, {'inputs': ''}, {'inputs': ' '}]:
            httpx.post(f'{server.url}/generate', json=body)
        got = read_metrics(httpx.get(f'{server.url}/metrics').text)
    assert empty['requests'] == 0 and empty['mean_duration_s'] is None, 'no requests yet: mean is None'
    assert got['requests'] == 3 and got['failures'] == 2, 'counters end in _total on this server'
    assert got['mean_duration_s'] > 0 and got['queue_size'] == 0

