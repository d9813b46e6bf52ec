# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "limited_app"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_health_while_every_slot_is_busy(make_app):
    import threading
    import time
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_app), 'write make_app(generate_text, max_concurrent) in the cell above'
    calls, started, release = ([], threading.Semaphore(0), threading.Event())

    def stuck_model(prompt, max_new_tokens):
        calls.append((prompt, max_new_tokens))
        started.release()
        release.wait(15)
        return f'{prompt}!'

    def run():
        app = make_app(stuck_model, 2)
        assert app is not None, 'make_app must return the FastAPI app it builds'
        results, threads = ({}, [])
        with TestClient(app, raise_server_exceptions=False) as client:
            try:
                for i in range(3):
                    threads.append(threading.Thread(target=lambda i=i: results.update({i: client.post('/generate', json={'prompt': f'story {i}', 'max_new_tokens': 7})}), daemon=True))
                    threads[-1].start()
                if not started.acquire(timeout=10):
                    shown = next(iter(results.values()), None)
                    assert shown is None, f'POST /generate answered {shown.status_code} without calling generate_text: {shown.text[:200]}'
                    raise AssertionError('POST /generate never called generate_text')
                health = within(10, client.get, '/health', hint='/health did not answer while a generation ran: the model call blocks the event loop (an async def endpoint calling generate_text directly, or a threading lock waited for inside an async def?)')
                assert health.status_code == 200 and health.json() == {'status': 'ok'}, 'GET /health must answer {"status": "ok"}'
                assert started.acquire(timeout=10), 'only one generation ran although max_concurrent=2 allows two at a time'
                assert not started.acquire(timeout=0.5), 'a third generation started although max_concurrent=2 allows only two at a time'
                health = within(10, client.get, '/health', hint='/health did not answer while requests waited for a slot')
            finally:
                release.set()
                deadline = time.monotonic() + 10
                for thread in threads:
                    thread.join(max(0.0, deadline - time.monotonic()))
        assert len(results) == 3, 'not every request was answered once the generations ended'
        for i in range(3):
            assert results[i].status_code == 200, f'a request that waited for a slot got {results[i].status_code}: {results[i].text[:200]}'
            assert results[i].json() == {'generated_text': f'story {i}!'}, 'answer {"generated_text": <what generate_text returned for this prompt>}'
        assert sorted(calls) == [(f'story {i}', 7) for i in range(3)], 'call generate_text(prompt, max_new_tokens) with the prompt and max_new_tokens of the request'
    within(40, run, hint='your app did not answer: is a lock held across an await, or a slot never given back?')

@test_case(points=None, hidden=False)
def test_runs_up_to_the_limit(make_app):
    import threading
    import time
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_app), 'write make_app(generate_text, max_concurrent) in the cell above'

    def peak_of(max_concurrent, requests=6):
        running, peak, count = ([0], [0], threading.Lock())

        def counting_model(prompt, max_new_tokens):
            with count:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.3)
            with count:
                running[0] -= 1
            return prompt
        statuses = []
        with TestClient(make_app(counting_model, max_concurrent), raise_server_exceptions=False) as client:
            threads = [threading.Thread(target=lambda i=i: statuses.append(client.post('/generate', json={'prompt': f'p{i}', 'max_new_tokens': 4}).status_code), daemon=True) for i in range(requests)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        assert sorted(statuses) == [200] * requests, f'every request must be answered 200 (they wait for a slot), got {sorted(statuses)}'
        return peak[0]

    def run():
        peak = peak_of(2)
        assert peak >= 1, 'POST /generate never called generate_text'
        assert peak <= 2, f'{peak} generations ran at once with max_concurrent=2: allow at most max_concurrent'
        assert peak == 2, 'only one generation ran at a time with max_concurrent=2: let up to max_concurrent run'
    within(30, run, hint='your app did not answer: is a lock held across an await, or a slot never given back?')

