# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "streaming_app"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_stream_events(make_streaming_app):
    import json
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_streaming_app), 'write make_streaming_app(stream_text) in the cell above'
    asked = []

    def three_pieces(prompt, max_new_tokens):
        asked.append((prompt, max_new_tokens))
        yield from ['Once', ' upon', ' a time']
    app = make_streaming_app(three_pieces)
    assert app is not None, 'make_streaming_app must return the app'
    response = within(10, TestClient(app, raise_server_exceptions=False).post, '/generate_stream', json={'prompt': 'A story', 'max_new_tokens': 5}, hint='the stream never ended: does your endpoint wait for something?')
    assert response.status_code == 200, f'a valid request got {response.status_code}: {response.text[:200]}'
    assert response.headers.get('content-type', '').startswith('text/event-stream'), 'answer with server-sent events (response_class=EventSourceResponse)'
    assert asked == [('A story', 5)], "call stream_text(prompt, max_new_tokens) once, with the request's prompt and max_new_tokens"
    data = [line[5:].removeprefix(' ') for line in response.text.splitlines() if line.startswith('data:')]
    assert data, 'no `data:` lines in the answer: yield one event per piece'
    assert data[-1] != '"[DONE]"', 'the last line is data: "[DONE]", with quotes: FastAPI JSON-encoded your string. Send it raw (fastapi.sse.ServerSentEvent has a field for that)'
    assert data[-1] == '[DONE]', 'end the stream with the line data: [DONE]'
    try:
        events = [json.loads(item) for item in data[:-1]]
    except ValueError:
        raise AssertionError('every event before [DONE] must be JSON (yield a dict)') from None
    expected_pieces = [{'index': i, 'text': piece} for i, piece in enumerate(['Once', ' upon', ' a time'])]
    assert events[:3] == expected_pieces, 'send one event {"index": i, "text": piece} per piece, in order, i counting from 0'
    assert events[3:] == [{'generated_text': 'Once upon a time'}], 'after the pieces, send one event {"generated_text": all the pieces joined}, then [DONE]'

@test_case(points=None, hidden=False)
def test_error_mid_stream(make_streaming_app):
    import json
    import logging
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_streaming_app), 'write make_streaming_app(stream_text) in the cell above'

    def failing(prompt, max_new_tokens):
        yield 'Once'
        yield ' upon'
        raise RuntimeError('CUDA out of memory at /home/alice/model.py')
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record)
    root, keep = (logging.getLogger(), Keep(level=logging.ERROR))
    root.addHandler(keep)
    try:
        response = within(10, TestClient(make_streaming_app(failing), raise_server_exceptions=False).post, '/generate_stream', json={'prompt': 'A story'}, hint='the stream never ended after stream_text raised')
    finally:
        root.removeHandler(keep)
    assert 'CUDA' not in response.text and '/home' not in response.text, 'nothing from the exception may reach the client'
    data = [line[5:].removeprefix(' ') for line in response.text.splitlines() if line.startswith('data:')]
    assert data and data[-1] == '[DONE]', 'when stream_text raises, the stream must still end with data: [DONE] (catch the exception)'
    try:
        events = [json.loads(item) for item in data[:-1]]
    except ValueError:
        raise AssertionError('every event before [DONE] must be JSON (yield a dict)') from None
    assert events[:2] == [{'index': 0, 'text': 'Once'}, {'index': 1, 'text': ' upon'}], 'the pieces sent before the error must still be sent, as usual'
    assert events[2:] == [{'error': 'Internal server error'}], 'after the error send one event {"error": "Internal server error"} (and no generated_text), then [DONE]'
    ours = [r for r in records if r.name == 'server' or r.name.startswith('server.')]
    assert any((r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in ours)), 'log the exception with its traceback on logging.getLogger("server") (log.exception in the except)'

@test_case(points=None, hidden=False)
def test_bad_body_is_a_json_422(make_streaming_app):
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_streaming_app), 'write make_streaming_app(stream_text) in the cell above'
    calls = []
    client = TestClient(make_streaming_app(lambda prompt, n: calls.append(prompt) or iter(['x'])), raise_server_exceptions=False)
    for body in [{'prompt': '', 'max_new_tokens': 3}, {'prompt': 'Hi', 'max_new_tokens': 999}]:
        response = within(10, client.post, '/generate_stream', json=body, hint='no answer to a bad body')
        assert response.status_code == 422, f'a bad body must be a 422 (validate it with GenerateBody), got {response.status_code}'
        assert response.headers.get('content-type', '').startswith('application/json'), "a bad body gets FastAPI's JSON 422, not a stream"
    assert not calls, 'a bad body must not reach stream_text'

@test_case(points=None, hidden=True)
def test_awkward_pieces(make_streaming_app):
    import json
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_streaming_app), 'write make_streaming_app(stream_text) in the cell above'
    pieces = ['Line one\nline two', ' "quoted" ', 'data: not an event\n\n', 'café ☕', '']

    def awkward(prompt, max_new_tokens):
        yield from pieces

    def nothing(prompt, max_new_tokens):
        yield from []

    def run(stream_text):
        client = TestClient(make_streaming_app(stream_text), raise_server_exceptions=False)
        response = client.post('/generate_stream', json={'prompt': 'Hi', 'max_new_tokens': 3})
        data = [line[5:].removeprefix(' ') for line in response.text.splitlines() if line.startswith('data:')]
        return data
    data = within(10, run, awkward, hint='the stream never ended')
    assert data and data[-1] == '[DONE]', 'end every stream with data: [DONE]'
    try:
        events = [json.loads(item) for item in data[:-1]]
    except ValueError:
        raise AssertionError('a piece with a newline broke an event: send each event as JSON (yield a dict), which keeps it on one data: line') from None
    assert events == [{'index': i, 'text': piece} for i, piece in enumerate(pieces)] + [{'generated_text': ''.join(pieces)}], 'pieces with newlines, quotes, non-ASCII characters, or empty ones, must arrive exactly as yielded'
    data = within(10, run, nothing, hint='the stream never ended')
    assert len(data) == 2 and data[1] == '[DONE]' and (json.loads(data[0]) == {'generated_text': ''}), 'a reply with no pieces is one event {"generated_text": ""}, then [DONE]'

@test_case(points=None, hidden=True)
def test_really_streams(make_streaming_app):
    import threading
    import httpx
    from course_utils.exercises import answered, within
    from course_utils.server import BackgroundServer
    assert answered(make_streaming_app), 'write make_streaming_app(stream_text) in the cell above'
    release, second_made = (threading.Event(), threading.Event())

    def slow_pieces(prompt, max_new_tokens):
        yield 'first'
        release.wait(5)
        second_made.set()
        yield ' second'

    def run():
        with BackgroundServer(make_streaming_app(slow_pieces)) as server:
            with httpx.stream('POST', f'{server.url}/generate_stream', timeout=20, json={'prompt': 'Hi', 'max_new_tokens': 2}) as response:
                for line in response.iter_lines():
                    if line.startswith('data:'):
                        seen_early = not second_made.is_set()
                        release.set()
                        return seen_early
        return None
    threading.Timer(8, release.set).start()
    try:
        seen_early = within(30, run, hint='the stream never started: does the endpoint block the event loop?')
    finally:
        release.set()
    assert seen_early is not None, 'the stream sent no data: lines'
    assert seen_early, 'the first piece arrived only with the later ones: yield each event as soon as its piece exists (and do not loop over a blocking generator inside an async def endpoint)'

@test_case(points=None, hidden=True)
def test_spaces_and_punctuation_kept(make_streaming_app):
    import json
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_streaming_app), 'write make_streaming_app(stream_text) in the cell above'
    pieces = [' Hello', ' ,', ' world', ' !', '\n']

    def spaced(prompt, max_new_tokens):
        yield from pieces

    def run():
        client = TestClient(make_streaming_app(spaced), raise_server_exceptions=False)
        response = client.post('/generate_stream', json={'prompt': 'Hi', 'max_new_tokens': 5})
        return [line[5:].removeprefix(' ') for line in response.text.splitlines() if line.startswith('data:')]
    data = within(10, run, hint='the stream never ended')
    assert data and data[-1] == '[DONE]', 'end every stream with data: [DONE]'
    events = [json.loads(item) for item in data[:-1]]
    assert events[:-1] == [{'index': i, 'text': piece} for i, piece in enumerate(pieces)], 'send every piece exactly as yielded, spaces and new lines included'
    assert events[-1:] == [{'generated_text': ''.join(pieces)}], 'generated_text is the pieces joined exactly as yielded ("".join(pieces)): nothing stripped, no spaces added (this reply starts with a space, has a space before punctuation, and ends with a new line)'

