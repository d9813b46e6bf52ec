from otter.test_files import test_case

OK_FORMAT = False

name = "safe_errors"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_generic_500_and_a_log(add_safe_errors):
    import logging
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    app = FastAPI()

    @app.get('/boom')
    def boom():
        raise RuntimeError('secret key sk-123 in /home/alice/server.py')

    @app.get('/square')
    def square(n: int):
        return {'square': n * n}
    add_safe_errors(app)
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record)
    root = logging.getLogger()
    keep = Keep(level=logging.ERROR)
    root.addHandler(keep)
    try:
        response = TestClient(app, raise_server_exceptions=False).get('/boom')
    finally:
        root.removeHandler(keep)
    assert response.status_code == 500, f'expected a 500, got {response.status_code}'
    assert response.headers['content-type'].startswith('application/json'), 'answer with JSON'
    assert response.json() == {'error': 'Internal server error'}
    assert 'secret' not in response.text and '/home' not in response.text
    assert any((r.exc_info and 'secret' in str(r.exc_info[1]) for r in records)), 'log the exception with its traceback: logger.exception(...) inside the handler'

