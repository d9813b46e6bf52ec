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

