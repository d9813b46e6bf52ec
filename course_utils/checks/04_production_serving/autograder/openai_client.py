# generated from notebooks/masters/04_production_serving.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "openai_client"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_sends_one_greedy_user_message(ask):
    from course_utils.exercises import CheckTimedOut, answered, within
    from course_utils.server import BackgroundServer
    import json
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route
    REPLY = 'The Rhône and the Saône, says the recording server.'
    received = []

    def recording_app():
        """Keeps every request it receives and answers every chat request with REPLY."""

        async def record(request):
            body = await request.json() if request.method == 'POST' else {}
            path = request.url.path
            agent = request.headers.get('user-agent', '')
            received.append({'path': path, 'body': body, 'agent': agent})
            if path != '/v1/chat/completions':
                return JSONResponse({'error': {'message': 'not found'}}, status_code=404)
            if body.get('stream'):

                def events():
                    pieces = [REPLY[:9], REPLY[9:30], REPLY[30:]]
                    deltas = [{'role': 'assistant', 'content': pieces[0]}]
                    deltas += [{'content': piece} for piece in pieces[1:]]
                    for delta, finish in [(d, None) for d in deltas] + [({}, 'stop')]:
                        choice = {'index': 0, 'delta': delta, 'finish_reason': finish}
                        chunk = {'id': 'chatcmpl-1', 'object': 'chat.completion.chunk', 'created': 0, 'model': 'recorder', 'choices': [choice]}
                        yield f'data: {json.dumps(chunk)}\n\n'
                    yield 'data: [DONE]\n\n'
                return StreamingResponse(events(), media_type='text/event-stream')
            message = {'role': 'assistant', 'content': REPLY}
            return JSONResponse({'id': 'chatcmpl-1', 'object': 'chat.completion', 'created': 0, 'model': 'recorder', 'choices': [{'index': 0, 'finish_reason': 'stop', 'message': message}], 'usage': {'prompt_tokens': 9, 'completion_tokens': 9, 'total_tokens': 18}})
        return Starlette(routes=[Route('/{path:path}', record, methods=['GET', 'POST'])])

    def text_of(content):
        """A message's text: a string, or OpenAI's list of text parts."""
        if isinstance(content, list):
            return ''.join((part.get('text', '') for part in content if isinstance(part, dict)))
        return content
    assert answered(ask), 'write `ask` first'
    question = 'Which river flows through Lyon?'
    with BackgroundServer(recording_app()) as server:
        try:
            answer = within(20, ask, server.url, question, max_tokens=7, hint='the recording server answers at once: does the request go to base_url/v1?')
        except CheckTimedOut:
            raise
        except Exception as err:
            answer = err
    wrong_paths = [seen['path'] for seen in received if seen['path'] != '/v1/chat/completions']
    assert not wrong_paths, f"your code called {wrong_paths[0]}: the chat API is at {{base_url}}/v1/chat/completions, so give the openai client base_url + '/v1'"
    assert not isinstance(answer, Exception), f'your code raised {type(answer).__name__}: {str(answer)[:150]}'
    assert len(received) == 1, f'make exactly one request to the server; it received {len(received)}'
    body, agent = (received[0]['body'], received[0]['agent'])
    assert 'OpenAI/Python' in agent, 'send the request with the openai package (OpenAI(base_url=..., api_key=...).chat.completions.create)'
    messages = body.get('messages') or []
    assert len(messages) == 1, f'send the question as the only message; your request had {len(messages)} messages'
    assert messages[0].get('role') == 'user', f"the question goes in a message with the role 'user', not {messages[0].get('role')!r}"
    assert text_of(messages[0].get('content')) == question, "send the `question` argument itself as the message's content"
    assert body.get('temperature') == 0, "ask for greedy decoding: temperature=0 (a server's default may sample)"
    neutral = {'n': 1, 'presence_penalty': 0, 'frequency_penalty': 0, 'stop': None, 'logit_bias': None}
    changing = ['stop', 'n', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'response_format', 'tools', 'tool_choice', 'functions', 'repetition_penalty', 'min_tokens']
    extra = [key for key in changing if key in body and body[key] not in (neutral.get(key), [], {})]
    assert not extra, f"send only what the text asks (the question, temperature=0, the budget, a model name); your request also sent {', '.join(extra)}, which change the reply"
    asked = body.get('max_tokens', body.get('max_completion_tokens'))
    assert asked == 7, f'pass `max_tokens` on as max_tokens (or max_completion_tokens); the server received {asked!r}'
    assert answer == REPLY, "return the reply's text, choices[0].message.content (a string), not the whole response"

@test_case(points=None, hidden=True)
def test_other_questions_and_the_default_budget(ask):
    from course_utils.exercises import within
    from course_utils.server import BackgroundServer
    import json
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route
    PIECES = [' Lyon sits', ' where the Rhô', 'ne meets the Saône', ' ;', ' « deux fleuves »', ' !\n']
    REPLY = ''.join(PIECES)
    received = []

    def recording_app():
        """Keeps every request it receives and answers every chat request with REPLY."""

        async def record(request):
            body = await request.json() if request.method == 'POST' else {}
            path = request.url.path
            agent = request.headers.get('user-agent', '')
            received.append({'path': path, 'body': body, 'agent': agent})
            if path != '/v1/chat/completions':
                return JSONResponse({'error': {'message': 'not found'}}, status_code=404)
            if body.get('stream'):

                def events():
                    pieces = PIECES
                    deltas = [{'role': 'assistant', 'content': pieces[0]}]
                    deltas += [{'content': piece} for piece in pieces[1:]]
                    for delta, finish in [(d, None) for d in deltas] + [({}, 'stop')]:
                        choice = {'index': 0, 'delta': delta, 'finish_reason': finish}
                        chunk = {'id': 'chatcmpl-1', 'object': 'chat.completion.chunk', 'created': 0, 'model': 'recorder', 'choices': [choice]}
                        yield f'data: {json.dumps(chunk)}\n\n'
                    yield 'data: [DONE]\n\n'
                return StreamingResponse(events(), media_type='text/event-stream')
            message = {'role': 'assistant', 'content': REPLY}
            return JSONResponse({'id': 'chatcmpl-1', 'object': 'chat.completion', 'created': 0, 'model': 'recorder', 'choices': [{'index': 0, 'finish_reason': 'stop', 'message': message}], 'usage': {'prompt_tokens': 9, 'completion_tokens': 9, 'total_tokens': 18}})
        return Starlette(routes=[Route('/{path:path}', record, methods=['GET', 'POST'])])

    def text_of(content):
        """A message's text: a string, or OpenAI's list of text parts."""
        if isinstance(content, list):
            return ''.join((part.get('text', '') for part in content if isinstance(part, dict)))
        return content
    questions = ['Say "hi"\nthen stop.', '¿Qué hora es?', '  Two  spaces, then a tab:\t? \n']
    with BackgroundServer(recording_app()) as server:
        hint = 'no reply from the recording server'
        answers = [within(20, ask, server.url, questions[0], max_tokens=3, hint=hint), within(20, ask, server.url, questions[1], hint=hint), within(20, ask, server.url, questions[2], max_tokens=5, hint=hint)]
    chats = [seen for seen in received if seen['path'] == '/v1/chat/completions']
    assert len(chats) == 3, 'one request per call of ask'
    for seen, question in zip(chats, questions):
        messages = seen['body'].get('messages') or []
        assert len(messages) == 1 and messages[0].get('role') == 'user' and (text_of(messages[0].get('content')) == question), 'send each question exactly as given (spaces and new lines included, quotes, accents), as the only user message: do not strip or reformat it'
        assert seen['body'].get('temperature') == 0, 'send temperature=0 on every call'
    budgets = [seen['body'].get('max_tokens', seen['body'].get('max_completion_tokens')) for seen in chats]
    assert budgets[0] == 3, 'pass the max_tokens argument on'
    assert budgets[1] == 32, "when the caller gives no max_tokens, send the function's default, 32"
    assert answers == [REPLY] * 3, 'return the reply\'s text as the server sent it, on every call: choices[0].message.content unchanged (this reply starts with a space and ends with a new line), or, when streaming, join the streamed pieces as they are ("".join)'

