from otter.test_files import test_case

OK_FORMAT = False

name = "non_blocking_app"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_health_answers_while_generating(make_app):
    import threading
    from fastapi.testclient import TestClient
    started, release = (threading.Event(), threading.Event())

    def stuck_model(prompt, max_new_tokens):
        started.set()
        release.wait(30)
        return f'{prompt}!'
    app = make_app(stuck_model)
    assert app is not None, 'make_app must return the app'
    results = {}
    with TestClient(app) as client:
        story = threading.Thread(target=lambda: results.update(story=client.post('/generate', json={'prompt': 'Hi', 'max_new_tokens': 4})))
        story.start()
        assert started.wait(30), 'POST /generate never called generate_text'
        health = threading.Thread(target=lambda: results.update(health=client.get('/health')))
        health.start()
        health.join(10)
        answered_during_generation = 'health' in results
        release.set()
        story.join(30)
        health.join(30)
    assert answered_during_generation, '/health waited for the generation: the model call blocks the event loop'
    assert results['health'].json() == {'status': 'ok'}
    assert results['story'].status_code == 200, results['story'].text
    assert results['story'].json() == {'generated_text': 'Hi!'}

@test_case(points=None, hidden=False)
def test_one_generation_at_a_time(make_app):
    import threading
    import time
    from fastapi.testclient import TestClient
    running, most = ([0], [0])
    count = threading.Lock()

    def counting_model(prompt, max_new_tokens):
        with count:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with count:
            running[0] -= 1
        return prompt
    with TestClient(make_app(counting_model)) as client:
        requests = [threading.Thread(target=client.post, args=('/generate',), kwargs={'json': {'prompt': f'p{i}', 'max_new_tokens': 4}}) for i in range(4)]
        for r in requests:
            r.start()
        for r in requests:
            r.join(60)
    assert most[0] >= 1, 'POST /generate never called generate_text'
    assert most[0] == 1, f'{most[0]} generations ran at once: guard the model with one lock'

@test_case(points=None, hidden=True)
def test_bad_body_never_reaches_the_model(make_app):
    from fastapi.testclient import TestClient
    calls = []
    client = TestClient(make_app(lambda prompt, n: calls.append(prompt) or 'x'))
    for body in [{'prompt': '  '}, {'prompt': 'Hi', 'max_new_tokens': 0}, {}]:
        assert client.post('/generate', json=body).status_code == 422, f'{body} must be a 422'
    assert not calls, 'invalid requests must not reach generate_text'
    assert client.post('/generate', json={'prompt': 'Hi'}).json() == {'generated_text': 'x'}

