from otter.test_files import test_case

OK_FORMAT = False

name = "streaming_app"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_stream_events(make_streaming_app):
    import json
    from fastapi.testclient import TestClient

    def three_pieces(prompt, max_new_tokens):
        yield from ['Once', ' upon', ' a time']
    app = make_streaming_app(three_pieces)
    assert app is not None, 'make_streaming_app must return the app'
    response = TestClient(app).post('/generate_stream', json={'prompt': 'A story', 'max_new_tokens': 3})
    assert response.status_code == 200, response.text
    assert response.headers['content-type'].startswith('text/event-stream'), 'answer with server-sent events (response_class=EventSourceResponse)'
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith('data:')]
    assert events[:-1] == [{'text': 'Once'}, {'text': ' upon'}, {'text': ' a time'}], "one event {'text': piece} per piece, in order"
    assert events[-1] == {'generated_text': 'Once upon a time'}, 'end with the whole text'

@test_case(points=None, hidden=False)
def test_bad_body_is_a_json_422(make_streaming_app):
    from fastapi.testclient import TestClient
    client = TestClient(make_streaming_app(lambda prompt, n: iter(['x'])))
    response = client.post('/generate_stream', json={'prompt': '', 'max_new_tokens': 3})
    assert response.status_code == 422, 'validate the body with GenerateBody'
    assert response.headers['content-type'].startswith('application/json')

@test_case(points=None, hidden=True)
def test_really_streams(make_streaming_app):
    import threading
    import httpx
    from course_utils.server import BackgroundServer
    release = threading.Event()

    def slow_pieces(prompt, max_new_tokens):
        yield 'first'
        release.wait(20)
        yield ' second'
    first_before_release = None
    guard = threading.Timer(10, release.set)
    guard.start()
    try:
        with BackgroundServer(make_streaming_app(slow_pieces)) as server:
            with httpx.stream('POST', f'{server.url}/generate_stream', timeout=60, json={'prompt': 'Hi', 'max_new_tokens': 2}) as response:
                for line in response.iter_lines():
                    if line.startswith('data:'):
                        first_before_release = not release.is_set()
                        release.set()
                        break
    finally:
        guard.cancel()
        release.set()
    assert first_before_release, 'the first piece arrived only with the last one: yield each piece as soon as it exists'

