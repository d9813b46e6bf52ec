# generated from notebooks/masters/07_vllm.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "router"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_spreads_requests_and_forwards_them_unchanged(make_router):
    import concurrent.futures
    import httpx
    from course_utils.exercises import answered, within
    from course_utils.fakes import FakeReplica
    from course_utils.server import BackgroundServer
    assert answered(make_router), 'write make_router first'
    bodies = [f'{{ "model" : "course",  "max_tokens": 4,\n "messages": [{{"role": "user", "content": "question {i}:\\ttabs and  spaces"}}] }}'.encode() for i in range(16)]
    with FakeReplica('a', delay=0.6) as a, FakeReplica('b', delay=0.6) as b:
        app = within(10, make_router, [a.url, b.url], health_interval=0.5, hint='make_router should return the app at once')
        with BackgroundServer(app) as router:

            def send(body):
                return httpx.post(f'{router.url}/v1/chat/completions', content=body, timeout=30, headers={'Content-Type': 'application/json', 'Authorization': 'Bearer k1'})
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                replies = within(25, lambda: list(pool.map(send, bodies)), hint='16 requests at once did not all come back: does one wait for another?')
    statuses = sorted({r.status_code for r in replies})
    assert statuses == [200], f'the router answered {statuses}; every replica answered 200'
    got = a.generations() + b.generations()
    assert len(got) == 16, f'the replicas received {len(got)} requests for 16 sent: forward each request to exactly one replica'
    assert sorted((r.body for r in got)) == sorted(bodies), "a replica received a body different from the one the client sent: forward the request's bytes as they came (await request.body()), do not parse and re-encode them"
    assert all((r.headers.get('authorization') == 'Bearer k1' for r in got)), 'forward the Authorization header: a replica may require its API key'
    texts = [r.json()['choices'][0]['message']['content'] for r in replies]
    assert texts.count('reply from a') == len(a.generations()), "return each replica's answer to its client"
    assert min(len(a.generations()), len(b.generations())) >= 4, f'16 requests at once went {len(a.generations())} to one replica and {len(b.generations())} to the other: spread them (the replica with the fewest requests in progress, or by prompt start)'

@test_case(points=None, hidden=False)
def test_streams_pass_through_as_they_come(make_router):
    import time
    import httpx
    from course_utils.exercises import within
    from course_utils.fakes import FakeReplica
    from course_utils.server import BackgroundServer
    with FakeReplica('a', pieces=3, stream_gap=1.0) as a:
        direct = httpx.post(f'{a.url}/v1/chat/completions', json={'stream': True, 'messages': []}).content
        a.received.clear()
        with BackgroundServer(within(10, make_router, [a.url], health_interval=0.5)) as router:

            def read():
                started, pieces = (time.monotonic(), [])
                body = {'stream': True, 'messages': [{'role': 'user', 'content': 'hi'}]}
                with httpx.stream('POST', f'{router.url}/v1/chat/completions', json=body, timeout=30) as r:
                    kind = r.headers.get('content-type', '')
                    for piece in r.iter_raw():
                        pieces.append((time.monotonic() - started, piece))
                return (kind, pieces)
            kind, pieces = within(20, read, hint="the stream did not end: do you relay the replica's stream?")
    assert pieces, 'the router returned an empty body for a stream'
    assert b''.join((p for _, p in pieces)) == direct, 'the client did not receive the bytes the replica streamed: pass the stream through unchanged'
    assert kind.startswith('text/event-stream'), f"keep the replica's content type (text/event-stream), not {kind!r}"
    assert pieces[0][0] < 0.9, f'the first piece reached the client after {pieces[0][0]:.1f} s although the replica sent it at once: relay each piece as it comes (client.send(..., stream=True) and StreamingResponse), do not read the whole response first'

@test_case(points=None, hidden=False)
def test_skips_replicas_that_fail_their_health_check(make_router):
    import time
    import httpx
    from course_utils.exercises import within
    from course_utils.fakes import FakeReplica
    from course_utils.server import BackgroundServer
    body = {'model': 'course', 'messages': [{'role': 'user', 'content': 'hi'}]}
    with FakeReplica('sick', healthy=False) as sick, FakeReplica('well') as well:
        with BackgroundServer(within(10, make_router, [sick.url, well.url], health_interval=0.3)) as router:

            def send(n):
                return [httpx.post(f'{router.url}/v1/chat/completions', json=body, timeout=20).status_code for _ in range(n)]
            first = within(20, send, 6, hint='requests did not come back')
            assert sick.health_checks >= 1, "check each replica's GET /health before sending it requests"
            assert not sick.generations(), 'a replica whose /health answered 503 received requests: check /health when the router starts, and send nothing to a replica whose last check failed'
            assert first == [200] * 6, f'the healthy replica answered 200 but the client got {first}'
            sick.healthy, well.healthy = (True, False)
            time.sleep(1.2)
            within(20, send, 4, hint='requests did not come back')
    assert len(sick.generations()) == 4, f'once the first replica was healthy again and the second failed its check, {len(sick.generations())} of 4 requests went to the first: check /health every health_interval seconds'

@test_case(points=None, hidden=False)
def test_retries_a_refused_or_unreachable_request_once(make_router):
    import httpx
    from course_utils.exercises import within
    from course_utils.fakes import FakeReplica, closed_url
    from course_utils.server import BackgroundServer
    body = {'model': 'course', 'messages': [{'role': 'user', 'content': 'hi'}]}
    with FakeReplica('full', status=429) as full, FakeReplica('free') as free:
        with BackgroundServer(within(10, make_router, [full.url, free.url], health_interval=0.5)) as router:

            def post():
                return httpx.post(f'{router.url}/v1/chat/completions', json=body, timeout=20)
            statuses = within(20, lambda: [post().status_code for _ in range(4)])
    assert statuses == [200] * 4, f'a replica answered 429 and another was free, yet the client got {statuses}: retry a 429 once on another replica'
    assert len(free.generations()) == 4, 'each request should end on the free replica, once'
    full = [FakeReplica(f'full{i}', status=429).start() for i in range(3)]
    try:
        with BackgroundServer(within(10, make_router, [f.url for f in full], health_interval=0.5)) as router:
            url = f'{router.url}/v1/chat/completions'
            refused = within(20, lambda: httpx.post(url, json=body, timeout=20))
    finally:
        for replica in full:
            replica.stop()
    sent = sum((len(f.generations()) for f in full))
    assert refused.status_code in (429, 503), f'every replica refused, yet the client got {refused.status_code}: pass the 429 on (or answer 503)'
    assert sent == 2, f'one request was sent {sent} times to three replicas that refused: retry once, not more'
    with FakeReplica('up') as up:
        with BackgroundServer(within(10, make_router, [closed_url(), up.url], health_interval=30)) as router:
            url = f'{router.url}/v1/completions'
            reached = within(20, lambda: [httpx.post(url, json={'model': 'course', 'prompt': 'hi'}, timeout=20).status_code for _ in range(3)])
    assert reached == [200] * 3, f'one replica was down (its port closed) and the other up, yet the client got {reached}: skip it (its health check fails) or retry elsewhere'
    assert len(up.generations()) == 3 and up.generations()[0].path == '/v1/completions', 'forward /v1/completions too, to the same path'

