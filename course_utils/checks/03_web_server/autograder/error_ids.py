# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "error_ids"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_a_500_with_an_id_that_is_in_the_log(add_safe_errors):
    import logging
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(add_safe_errors), 'write add_safe_errors(app) in the cell above'
    app = FastAPI()

    @app.get('/boom')
    def boom():
        raise RuntimeError('secret key sk-123 in /home/alice/server.py')
    add_safe_errors(app)
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record)
    root, keep = (logging.getLogger(), Keep(level=logging.ERROR))
    root.addHandler(keep)
    try:
        response = within(10, TestClient(app, raise_server_exceptions=False).get, '/boom', hint='your error handling never answered: does it wait for something?')
    finally:
        root.removeHandler(keep)
    assert response.status_code == 500, f'an unexpected exception must be answered with a 500, got {response.status_code}'
    assert response.headers.get('content-type', '').startswith('application/json'), 'answer with JSON (a JSONResponse)'
    body = response.json()
    for secret in ('secret', 'sk-123', '/home', 'RuntimeError'):
        assert secret not in response.text, 'the body must not contain anything from the exception (its message, type or paths)'
    assert isinstance(body, dict) and set(body) == {'error', 'error_id'}, 'the body must have exactly two keys, "error" and "error_id"'
    assert body['error'] == 'Internal server error', 'the "error" must say "Internal server error"'
    error_id = body['error_id']
    assert isinstance(error_id, str) and error_id.strip(), 'the "error_id" must be a non-empty string'
    ours = [r for r in records if r.name == 'server' or r.name.startswith('server.')]
    assert ours, 'log the error at ERROR level on logging.getLogger("server") (for example log.exception(...))'
    assert any((r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in ours)), 'log the exception with its traceback: log.exception(...) inside the handler, or exc_info=exc'
    assert any((error_id in r.getMessage() for r in ours)), 'the log message must contain the error_id that the client received'

@test_case(points=None, hidden=False)
def test_each_error_its_own_id(add_safe_errors):
    import logging
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(add_safe_errors), 'write add_safe_errors(app) in the cell above'
    app = FastAPI()

    @app.get('/boom')
    def boom():
        raise ValueError('bad state')
    add_safe_errors(app)

    def run():
        client = TestClient(app, raise_server_exceptions=False)
        return [client.get('/boom') for _ in range(3)]
    root, quiet = (logging.getLogger(), logging.NullHandler())
    root.addHandler(quiet)
    try:
        responses = within(10, run, hint='your error handling never answered: does it wait for something?')
    finally:
        root.removeHandler(quiet)
    for response in responses:
        assert response.status_code == 500 and response.headers.get('content-type', '').startswith('application/json'), 'a ValueError did not get the JSON 500: handle every exception (Exception), not one type'
    ids = [response.json().get('error_id') for response in responses]
    assert len(set(ids)) == 3, 'every error needs a new error_id (make it in the handler, for each error)'

@test_case(points=None, hidden=True)
def test_other_statuses_unchanged(add_safe_errors):
    from fastapi import FastAPI, HTTPException
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(add_safe_errors), 'write add_safe_errors(app) in the cell above'
    app = FastAPI()

    @app.get('/square')
    def square(n: int):
        return {'square': n * n}

    @app.get('/members')
    def members():
        raise HTTPException(status_code=403, detail='members only')
    add_safe_errors(app)

    def run():
        client = TestClient(app, raise_server_exceptions=False)
        assert client.get('/square', params={'n': 3}).json() == {'square': 9}, 'a working endpoint must answer as before'
        response = client.get('/square', params={'n': 'three'})
        assert response.status_code == 422 and 'detail' in response.json(), "keep FastAPI's 422s as they are"
        assert client.get('/nowhere').status_code == 404, 'keep the 404 of an unknown path'
        response = client.get('/members')
        assert response.status_code == 403 and response.json() == {'detail': 'members only'}, 'an HTTPException raised on purpose keeps its status and detail: catch only the unexpected'
    within(10, run, hint='your error handling never answered: does it wait for something?')

@test_case(points=None, hidden=True)
def test_async_endpoints_and_other_exceptions(add_safe_errors):
    import logging
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(add_safe_errors), 'write add_safe_errors(app) in the cell above'
    app = FastAPI()

    @app.post('/async_boom')
    async def async_boom():
        raise KeyError('OPENAI_API_KEY=sk-live-999')

    @app.get('/zero')
    def zero():
        return {'value': 1 / 0}
    add_safe_errors(app)
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record)
    root, keep = (logging.getLogger(), Keep(level=logging.ERROR))
    root.addHandler(keep)

    def run():
        client = TestClient(app, raise_server_exceptions=False)
        return (client.post('/async_boom'), client.get('/zero'), client.get('/zero'))
    try:
        responses = within(10, run, hint='your error handling never answered: does it wait for something?')
    finally:
        root.removeHandler(keep)
    for response in responses:
        assert response.status_code == 500, f'every unexpected exception must be a 500, got {response.status_code}'
        assert 'sk-live' not in response.text and 'division' not in response.text, 'nothing from the exception may reach the client'
        assert set(response.json()) == {'error', 'error_id'}, 'answer {"error": ..., "error_id": ...}'
    ours = [r.getMessage() for r in records if r.name == 'server' or r.name.startswith('server.')]
    for response in responses:
        assert any((response.json()['error_id'] in message for message in ours)), 'log every error with its error_id, from async def endpoints too'

@test_case(points=None, hidden=True)
def test_errors_at_the_same_moment(add_safe_errors):
    import logging
    import os
    import threading
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(add_safe_errors), 'write add_safe_errors(app) in the cell above'
    app = FastAPI()

    @app.get('/boom')
    async def boom():
        raise RuntimeError('many users at once')
    add_safe_errors(app)

    def run():
        responses, gate = ([], threading.Barrier(12))
        with TestClient(app, raise_server_exceptions=False) as client:

            def send():
                gate.wait(5)
                responses.append(client.get('/boom'))
            senders = [threading.Thread(target=send, daemon=True) for _ in range(12)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join(8)
        return responses
    root, quiet = (logging.getLogger(), logging.NullHandler())
    root.addHandler(quiet)
    try:
        responses = within(15, run, hint='your error handling never answered: does it wait for something?')
    finally:
        root.removeHandler(quiet)
    assert len(responses) == 12 and all((r.status_code == 500 for r in responses)), '12 errors at the same moment: each gets the JSON 500'
    ids = [str(r.json().get('error_id')) for r in responses]
    assert len(set(ids)) == 12, f'errors at the same moment got the same error_id ({12 - len(set(ids))} repeated): make it random (uuid.uuid4().hex), not from the clock or a counter'
    shared = max((len(os.path.commonprefix([a, b])) for a in ids for b in ids if a != b))
    assert min(map(len, ids)) >= 8 and shared < 8, f'errors at the same moment got error_ids that follow one another (short, or sharing their first {shared} characters): make each one random (uuid.uuid4().hex, secrets.token_hex(8)). An id from the clock or a counter repeats across replicas and restarts, and under load'

