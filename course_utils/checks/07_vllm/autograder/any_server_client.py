# generated from notebooks/masters/07_vllm.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "any_server_client"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_asks_a_strict_server_for_its_model_greedily_and_streams(ask_any):
    from course_utils.exercises import CheckTimedOut, within
    from course_utils.fakes import FakeReplica
    reply = 'Lyon , on the Rhône ; then Vienne .'
    with FakeReplica('vllm', model='smol-7', strict_model=True, reply=reply, pieces=5) as server:
        try:
            got = within(20, ask_any, server.url, 'Which river?', 9, hint='the fake server answers at once: does the request go to base_url/v1?')
        except CheckTimedOut:
            raise
        except Exception as err:
            got = err
    paths = [r.path for r in server.received]
    assert '/v1/models' in paths, 'ask the server which model it serves (client.models.list()): vLLM refuses any other name'
    chats = server.generations()
    assert chats, 'no chat request reached the server: call client.chat.completions.create'
    body = chats[-1].json
    assert body.get('model') == 'smol-7', f"send the id that /v1/models listed as the model; your request named {body.get('model')!r}"
    assert len(chats) == 1, f'one chat request per call; the server received {len(chats)}'
    assert body.get('temperature') == 0, 'ask for greedy decoding with temperature=0 (vLLM samples otherwise)'
    assert body.get('max_tokens', body.get('max_completion_tokens')) == 9, 'pass max_tokens on'
    assert body.get('stream') is True, 'stream the reply: stream=True'
    assert not isinstance(got, Exception), f'your code raised {type(got).__name__}: {str(got)[:150]}'
    assert isinstance(got, str), f"return the reply's text (a string), not a {type(got).__name__}"
    assert got == reply, 'join the streamed pieces exactly as they came: no stripping, no separator (the reply here has spaces before its punctuation)'

@test_case(points=None, hidden=True)
def test_works_unchanged_against_a_lenient_server_and_keeps_the_question(ask_any):
    from course_utils.exercises import within
    from course_utils.fakes import FakeReplica
    question = 'Say "hi"\n  twice.'
    with FakeReplica('course', model='SmolLM2-135M-Instruct', reply='hi hi', pieces=2) as server:
        got = within(20, ask_any, server.url, question, hint='no reply from the fake server')
    body = server.generations()[-1].json
    messages = body.get('messages') or []
    assert len(messages) == 1 and messages[0].get('role') == 'user', 'send the question as one user message'
    assert messages[0].get('content') == question, 'send the question exactly as given'
    assert body.get('model') == 'SmolLM2-135M-Instruct', 'use the model /v1/models names, on every server'
    assert body.get('max_tokens', body.get('max_completion_tokens')) == 32, 'the default max_tokens is 32'
    assert got == 'hi hi', 'return the whole reply, joined from its pieces'

