# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "chat_body"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_accepts_valid_chats(ChatBody, ChatMessage):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from course_utils.exercises import within
    assert getattr(ChatBody, 'model_fields', None) and getattr(ChatMessage, 'model_fields', None), 'write the fields of ChatMessage and ChatBody (pydantic models) in the cell above'

    def run():

        def chat(body):
            return body
        chat.__annotations__['body'] = ChatBody
        app = FastAPI()
        app.post('/chat')(chat)
        client = TestClient(app, raise_server_exceptions=False)
        system, user = ({'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'})
        response = client.post('/chat', json={'messages': [system, user]})
        assert response.status_code == 200, f"a valid chat (a system message, then the user's) got {response.status_code}: {response.text[:300]}"
        answer = response.json()
        assert answer.get('max_new_tokens') == 64 and (not isinstance(answer.get('max_new_tokens'), bool)), 'max_new_tokens must default to 64 when the client does not send it'
        assert answer.get('temperature') == 0, 'temperature must default to 0 when the client does not send it'
        assert [m.get('role') for m in answer.get('messages', [])] == ['system', 'user'] and answer['messages'][1].get('content') == 'Hi', 'keep the messages, roles and contents as sent'
        longer = {'messages': [user, {'role': 'assistant', 'content': 'Hello!'}, {'role': 'user', 'content': 'Again'}], 'max_new_tokens': 512, 'temperature': 1}
        response = client.post('/chat', json=longer)
        assert response.status_code == 200, f'a valid 3-message chat with max_new_tokens 512 and temperature 1 got {response.status_code}: {response.text[:300]}'
        assert response.json().get('temperature') == 1, 'keep the temperature the client sent'
        response = client.post('/chat', json={'messages': [user], 'max_new_tokens': 1, 'temperature': 0.7})
        assert response.status_code == 200, f'max_new_tokens 1 with temperature 0.7 is valid, got {response.status_code}: {response.text[:300]}'
    within(20, run, hint='checking your models took too long: does a validator loop forever?')

@test_case(points=None, hidden=False)
def test_rejects_bad_chats(ChatBody):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from course_utils.exercises import within
    assert getattr(ChatBody, 'model_fields', None), 'write the fields of ChatMessage and ChatBody (pydantic models) in the cell above'

    def run():

        def chat(body):
            return body
        chat.__annotations__['body'] = ChatBody
        app = FastAPI()
        app.post('/chat')(chat)
        client = TestClient(app, raise_server_exceptions=False)
        user = {'role': 'user', 'content': 'Hi'}
        bad = {'a body without messages': {}, 'an empty list of messages': {'messages': []}, '33 messages': {'messages': [user] * 33}, 'an unknown role': {'messages': [{'role': 'robot', 'content': 'Hi'}, user]}, 'empty content': {'messages': [{'role': 'user', 'content': ''}]}, 'content of only whitespace': {'messages': [{'role': 'user', 'content': '  \n\t '}]}, 'content that is not a string': {'messages': [{'role': 'user', 'content': 42}]}, "a chat that ends with the assistant's message": {'messages': [user, {'role': 'assistant', 'content': 'Hello!'}]}, 'a chat of only a system message': {'messages': [{'role': 'system', 'content': 'Be brief.'}]}, 'max_new_tokens 0': {'messages': [user], 'max_new_tokens': 0}, 'max_new_tokens 513': {'messages': [user], 'max_new_tokens': 513}, 'max_new_tokens "64" (a string)': {'messages': [user], 'max_new_tokens': '64'}, 'a negative temperature': {'messages': [user], 'temperature': -0.1}, 'temperature 2.5': {'messages': [user], 'temperature': 2.5}, 'temperature "0.5" (a string)': {'messages': [user], 'temperature': '0.5'}, 'an unknown field in the body (max_tokens)': {'messages': [user], 'max_tokens': 50}, 'an unknown field in a message (name)': {'messages': [{'role': 'user', 'content': 'Hi', 'name': 'bob'}]}}
        for name, body in bad.items():
            status = client.post('/chat', json=body).status_code
            assert status == 422, f'{name} should be refused with a 422, got {status}'
    within(20, run, hint='checking your models took too long: does a validator loop forever?')

