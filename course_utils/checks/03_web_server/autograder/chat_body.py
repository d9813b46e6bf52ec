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

@test_case(points=None, hidden=True)
def test_limits_exactly(ChatBody):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pydantic import ValidationError
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
        within_limits = {'32 messages': {'messages': [user] * 32}, 'content of 4000 characters': {'messages': [{'role': 'user', 'content': 'x' * 4000}]}, 'content with spaces around words': {'messages': [{'role': 'user', 'content': '  hi there  '}]}, 'content of punctuation only (?)': {'messages': [{'role': 'user', 'content': '?'}]}, 'content over several lines': {'messages': [{'role': 'user', 'content': '\nline one\nline two'}]}, 'max_new_tokens 512 and temperature 2': {'messages': [user], 'max_new_tokens': 512, 'temperature': 2}, 'temperature 0 and max_new_tokens 1': {'messages': [user], 'max_new_tokens': 1, 'temperature': 0}, 'a system, user, assistant, user chat': {'messages': [{'role': 'system', 'content': 'Be brief.'}, user, {'role': 'assistant', 'content': 'Hello'}, user]}}
        for name, body in within_limits.items():
            response = client.post('/chat', json=body)
            assert response.status_code == 200, f'{name} is within the rules, got {response.status_code}'
            sent = [message['content'] for message in body['messages']]
            kept = [message.get('content') for message in response.json().get('messages', [])]
            assert kept == sent, f"""{name}: keep each message's content exactly as sent, spaces and new lines included. Check "not only whitespace" without changing the text (no str_strip_whitespace, no .strip() in a validator)"""
        breaking = {'content of 4001 characters': {'messages': [{'role': 'user', 'content': 'x' * 4001}]}, 'content of 4001 characters, the first a space': {'messages': [{'role': 'user', 'content': ' ' + 'x' * 4000}]}, "the role with a space around it (' user')": {'messages': [{'role': ' user', 'content': 'Hi'}]}, 'max_new_tokens 2.5': {'messages': [user], 'max_new_tokens': 2.5}, 'max_new_tokens 64.0 (a float)': {'messages': [user], 'max_new_tokens': 64.0}, 'max_new_tokens true': {'messages': [user], 'max_new_tokens': True}, 'temperature 2.01': {'messages': [user], 'temperature': 2.01}, 'messages as one string': {'messages': 'Hi'}, 'a message without content': {'messages': [{'role': 'user'}]}, 'a message without role': {'messages': [{'content': 'Hi'}]}, 'null content': {'messages': [{'role': 'user', 'content': None}]}, 'the role in capitals (SYSTEM)': {'messages': [{'role': 'SYSTEM', 'content': 'Hi'}, user]}, 'an unknown field next to valid ones (stream)': {'messages': [user], 'stream': True}, 'a JSON list instead of an object': [user]}
        for name, body in breaking.items():
            status = client.post('/chat', json=body).status_code
            assert status == 422, f'{name} breaks a rule and should be a 422, got {status}'
        try:
            ChatBody.model_validate({'messages': [user, {'role': 'assistant', 'content': 'Hello'}]})
        except ValidationError:
            pass
        except Exception as err:
            raise AssertionError(f'the last-message rule raised {type(err).__name__}: raise ValueError inside a pydantic validator, so that pydantic reports it') from None
        else:
            raise AssertionError("ChatBody.model_validate accepted a chat that ends with the assistant's message: the rule must live in the model (a validator), not elsewhere")
    within(20, run, hint='checking your models took too long: does a validator loop forever?')

