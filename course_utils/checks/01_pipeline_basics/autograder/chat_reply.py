from otter.test_files import test_case

OK_FORMAT = False

name = "chat_reply"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_reply_from_a_made_up_output(reply_text):
    output = [{'generated_text': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello there!'}]}]
    got = reply_text(output)
    assert got == 'Hello there!', f"expected 'Hello there!', got {got!r}: the reply is the content of the last message in output[0]['generated_text']"

@test_case(points=None, hidden=False)
def test_reply_from_the_pipeline(reply_text, generator):
    messages = [{'role': 'user', 'content': 'What is 2 + 2?'}]
    output = generator(messages, max_new_tokens=8, do_sample=False)
    got = reply_text(output)
    expected = output[0]['generated_text'][-1]['content']
    assert isinstance(got, str) and got == expected, f'expected {expected!r}, got {got!r}'

@test_case(points=None, hidden=True)
def test_reply_in_a_longer_conversation(reply_text):
    output = [{'generated_text': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello.'}, {'role': 'user', 'content': 'Bye'}, {'role': 'assistant', 'content': 'Goodbye.'}]}]
    assert reply_text(output) == 'Goodbye.'

