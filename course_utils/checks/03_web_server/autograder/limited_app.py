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

@test_case(points=None, hidden=True)
def test_other_limits(make_app):
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
        assert sorted(statuses) == [200] * requests, f'with max_concurrent={max_concurrent} every request must be answered 200, got {sorted(statuses)}'
        return peak[0]

    def run():
        for limit in (1, 3):
            peak = peak_of(limit)
            assert peak == limit, f'with max_concurrent={limit}, {peak} generation(s) ran at once at the busiest moment: use the max_concurrent you are given'
    within(30, run, hint='your app did not answer: is a lock held across an await, or a slot never given back?')

@test_case(points=None, hidden=True)
def test_a_failure_gives_back_its_slot(make_app):
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_app), 'write make_app(generate_text, max_concurrent) in the cell above'

    def flaky_model(prompt, max_new_tokens):
        if prompt == 'boom':
            raise RuntimeError('the model failed')
        return prompt.upper()

    def run():
        hint = 'after generate_text raised, the next request waited for ever: give the slot back even when it raises (with ... : or try/finally)'
        client = TestClient(make_app(flaky_model, 1), raise_server_exceptions=False)
        for _ in range(2):
            status = within(5, client.post, '/generate', json={'prompt': 'boom'}, hint=hint).status_code
            assert status >= 500, f'a generation that raised must not look like a success, got {status}'
        response = within(5, client.post, '/generate', json={'prompt': 'fine'}, hint=hint)
        assert response.status_code == 200 and response.json() == {'generated_text': 'FINE'}, 'after a failed generation the next request must be answered normally'
    within(20, run, hint='your app did not answer: is a lock held across an await, or a slot never given back?')

@test_case(points=None, hidden=True)
def test_bad_body_never_reaches_the_model(make_app):
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_app), 'write make_app(generate_text, max_concurrent) in the cell above'
    calls = []

    def run():
        client = TestClient(make_app(lambda prompt, n: calls.append(prompt) or 'x', 2), raise_server_exceptions=False)
        for body in [{'prompt': '  '}, {'prompt': 'Hi', 'max_new_tokens': 0}, {}, {'prompt': 'Hi', 'max_new_tokens': '8'}]:
            status = client.post('/generate', json=body).status_code
            assert status == 422, f"the body {body} breaks GenerateBody's rules and must be a 422, got {status}"
        assert not calls, 'invalid requests must not reach generate_text: take the body as a GenerateBody'
        response = client.post('/generate', json={'prompt': 'Hi'})
        assert response.status_code == 200 and response.json() == {'generated_text': 'x'}, 'a body without max_new_tokens is valid (GenerateBody has a default)'
    within(20, run, hint='your app did not answer: is a lock held across an await?')

@test_case(points=None, hidden=True)
def test_many_requests_at_the_same_moment(make_app):
    import asyncio
    import threading
    import time
    from fastapi.testclient import TestClient
    from course_utils.exercises import answered, within
    assert answered(make_app), 'write make_app(generate_text, max_concurrent) in the cell above'
    your_code = make_app.__code__.co_filename
    arrived, started = (threading.Barrier(9), set())

    def pause_between_lines(frame, event, arg):
        """Before each line of the learner's code, a pause in which other threads run: a race that the
        GIL almost never shows (a count checked, then increased) shows every time. A request handled
        on a thread of its own (a plain `def` endpoint) first waits for the other eight to reach
        your code too, then pauses 50 ms before each line: longer than a busy machine takes to wake
        the nine, so all of them check a count before any has increased it. On the event loop's
        thread (`async def`) the pause is 1 ms."""
        if frame.f_code.co_filename != your_code or event != 'line':
            return pause_between_lines if frame.f_code.co_filename == your_code else None
        try:
            asyncio.get_running_loop()
            time.sleep(0.001)
            return pause_between_lines
        except RuntimeError:
            pass
        me = threading.get_ident()
        if me not in started and me != maker[0]:
            started.add(me)
            try:
                arrived.wait(2)
            except threading.BrokenBarrierError:
                pass
        time.sleep(0.05)
        return pause_between_lines
    running, peak, count = ([0], [0], threading.Lock())
    holds, let_all_go = ([], threading.Event())

    def held_model(prompt, max_new_tokens):
        """Each generation lasts until the check lets it end: one at a time, or all together."""
        hold = threading.Event()
        with count:
            holds.append(hold)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if not let_all_go.is_set():
            hold.wait(10)
        with count:
            running[0] -= 1
        return prompt.upper()

    def wait_until(condition, seconds):
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
    maker = [None]

    def run():
        maker[0] = threading.get_ident()
        answers, gate = ({}, threading.Barrier(9))
        with TestClient(make_app(held_model, 3), raise_server_exceptions=False) as client:

            def send(i):
                gate.wait(5)
                response = client.post('/generate', json={'prompt': f'story {i}', 'max_new_tokens': 4})
                answers[i] = response
            senders = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(9)]
            for sender in senders:
                sender.start()
            time.sleep(0.6)
            wait_until(lambda: peak[0] >= 3, 5)
            at_first = peak[0]
            with count:
                first = holds[0] if holds else None
            if first is not None:
                first.set()
                wait_until(lambda: len(holds) > at_first, 5)
                time.sleep(0.5)
            after_one = peak[0]
            let_all_go.set()
            with count:
                for hold in holds:
                    hold.set()
            deadline = time.monotonic() + 8
            for sender in senders:
                sender.join(max(0.0, deadline - time.monotonic()))
        return (at_first, after_one, answers)
    previous = threading.gettrace()
    threading.settrace(pause_between_lines)
    try:
        at_first, after_one, answers = within(40, run, hint='your app did not answer 9 requests sent at the same moment: is a lock held across an await, or a slot never given back?')
    finally:
        threading.settrace(previous)
        let_all_go.set()
    assert at_first <= 3, f'{at_first} generations ran at once when 9 requests arrived together (max_concurrent=3): a count checked, then increased, lets several requests through between the two steps. Take a slot in one step: a semaphore (threading or asyncio), or a lock around both'
    assert after_one <= 3, f'when one of the 3 running generations ended, {after_one} ran at once (max_concurrent=3): the freed slot let in more than one waiting request. Take the slot in the same step as you see it free: a `while` that checks again, or a semaphore'
    assert peak[0] <= 3, f'when the running generations ended, {peak[0]} ran at once (max_concurrent=3): the freed slots let in more waiting requests than there were slots'
    assert at_first == 3, f'only {at_first} generation(s) ran at once with 9 requests waiting and max_concurrent=3'
    assert sorted(answers) == list(range(9)) and all((answers[i].status_code == 200 and answers[i].json() == {'generated_text': f'STORY {i}'} for i in range(9))), 'every request sent at the same moment must be answered, each with its own text'

