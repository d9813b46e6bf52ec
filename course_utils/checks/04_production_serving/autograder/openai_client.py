from otter.test_files import test_case

OK_FORMAT = False

name = "openai_client"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_asks_the_chat_api(ask):
    import httpx
    from course_utils.models import tiny_model_path
    from course_utils.server import BackgroundServer, Engine, create_app
    with BackgroundServer(create_app(Engine(str(tiny_model_path())))) as server:
        expected = httpx.post(f'{server.url}/v1/chat/completions', json={'messages': [{'role': 'user', 'content': 'Hello there'}], 'max_tokens': 6, 'temperature': 0}).json()['choices'][0]['message']['content']
        answer = ask(server.url, 'Hello there', max_tokens=6)
        metrics = httpx.get(f'{server.url}/metrics').text
    assert isinstance(answer, str), "return the reply's text (a string)"
    assert answer == expected, 'send the question as one user message, greedily, with max_tokens'
    assert 'tgi_request_count_total 2.0' in metrics, 'make exactly one request to the server'

