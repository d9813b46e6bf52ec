from otter.test_files import test_case

OK_FORMAT = False

name = "chat_body"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_accepts_a_valid_chat(ChatBody):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    app = FastAPI()

    @app.post('/chat')
    def chat(body: ChatBody):
        return body.model_dump()
    client = TestClient(app)
    body = {'messages': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]}
    response = client.post('/chat', json=body)
    assert response.status_code == 200, f'a valid chat was refused: {response.text}'
    answer = response.json()
    assert answer.get('max_new_tokens') == 32, 'max_new_tokens defaults to 32'
    assert answer.get('temperature') == 0, 'temperature defaults to 0'
    assert [m['role'] for m in answer['messages']] == ['system', 'user'], 'keep the messages as sent'

@test_case(points=None, hidden=False)
def test_rejects_bad_chats(ChatBody):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    app = FastAPI()

    @app.post('/chat')
    def chat(body: ChatBody):
        return body.model_dump()
    client = TestClient(app)
    user = {'role': 'user', 'content': 'Hi'}
    bad = {'no messages': {}, 'an empty list': {'messages': []}, '33 messages': {'messages': [user] * 33}, 'an unknown role': {'messages': [{'role': 'robot', 'content': 'Hi'}]}, 'empty content': {'messages': [{'role': 'user', 'content': ''}]}, 'whitespace content': {'messages': [{'role': 'user', 'content': '  \n '}]}, 'content that is not a string': {'messages': [{'role': 'user', 'content': 42}]}, 'max_new_tokens 0': {'messages': [user], 'max_new_tokens': 0}, 'max_new_tokens 257': {'messages': [user], 'max_new_tokens': 257}, 'max_new_tokens as a string': {'messages': [user], 'max_new_tokens': '32'}, 'negative temperature': {'messages': [user], 'temperature': -0.1}, 'temperature above 2': {'messages': [user], 'temperature': 2.5}}
    for name, body in bad.items():
        status = client.post('/chat', json=body).status_code
        assert status == 422, f'{name} should be a 422, got {status}'

