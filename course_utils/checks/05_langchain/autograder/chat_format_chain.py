# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "chat_format_chain"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_sends_the_chat_format(chat_format_chain):
    from langchain_core.language_models.llms import LLM
    from transformers import AutoTokenizer
    from course_utils.exercises import answered, within
    from course_utils.models import tiny_model_path

    class RecordingLLM(LLM):
        seen: list = []

        @property
        def _llm_type(self):
            return 'recording'

        def _call(self, prompt, stop=None, run_manager=None, **kwargs):
            self.seen.append(prompt)
            return '  Bonjour.\n'
    assert answered(chat_format_chain), 'write chat_format_chain first: its body is still `...`'
    tok = AutoTokenizer.from_pretrained(tiny_model_path())
    fake = RecordingLLM()
    try:
        built = within(10, chat_format_chain, fake, tok, 'You answer in French.', hint='chat_format_chain only builds the chain: does it loop?')
    except TypeError as err:
        assert 'Expected llm' not in str(err), 'ChatHuggingFace is what this exercise replaces (it accepts only Hugging Face LLMs): apply tokenizer.apply_chat_template yourself in a step before the LLM'
        raise
    assert hasattr(built, 'invoke') and hasattr(built, 'batch'), 'return the chain itself (a runnable such as RunnableLambda(...) | llm), not its result'
    try:
        reply = within(10, built.invoke, {'question': 'Where is Paris?'}, hint='invoking your chain should call the LLM once and return')
    except (NotImplementedError, ValueError) as err:
        assert not any((s in str(err) for s in ('Unsupported message type', 'Invalid input type'))), 'the LLM got token ids: it needs the prompt as text, apply_chat_template(..., tokenize=False)'
        raise
    assert len(fake.seen) == 1, 'the chain should call the LLM exactly once per question'
    sent = fake.seen[0]
    expected = tok.apply_chat_template([{'role': 'system', 'content': 'You answer in French.'}, {'role': 'user', 'content': 'Where is Paris?'}], tokenize=False, add_generation_prompt=True)
    assert not sent.startswith(('System:', 'Human:')), "the LLM got LangChain's plain rendering of the messages ('System: ... Human: ...'), not the model's chat format: apply the tokenizer's chat template to the messages"
    assert 'Where is Paris?' in sent, "fill in the question as the user's message"
    assert 'You answer in French.' in sent, 'put `system` in a system message before the question'
    assert 'You are a helpful AI assistant' not in sent, "with a system message of your own, the template's default system message must not appear: send your system message as the first message"
    assert sent.endswith('<|im_start|>assistant\n'), "end the prompt with the start of the assistant's turn: add_generation_prompt=True"
    assert sent == expected, 'send exactly the text tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) makes from the system and user messages'
    assert reply == '  Bonjour.\n', "return the LLM's text as it comes (no stripping or reformatting)"

@test_case(points=None, hidden=True)
def test_no_system_other_template_and_batch(chat_format_chain):
    import copy
    from langchain_core.language_models.llms import LLM
    from transformers import AutoTokenizer
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path

    class RecordingLLM(LLM):
        seen: list = []

        @property
        def _llm_type(self):
            return 'recording'

        def _call(self, prompt, stop=None, run_manager=None, **kwargs):
            self.seen.append(prompt)
            return f'reply {len(self.seen)}'
    tok = AutoTokenizer.from_pretrained(tiny_model_path())
    fake = RecordingLLM()
    try:
        within(10, chat_format_chain(fake, tok).invoke, {'question': 'What does {x} mean?'}, hint='invoking your chain should call the LLM once and return')
    except Exception as err:
        if type(err).__module__.split('.')[0] != 'jinja2':
            raise
        raise AssertionError("with system=None send only the user's message: the chat template failed on the messages you gave it") from None
    expected = tok.apply_chat_template([{'role': 'user', 'content': 'What does {x} mean?'}], tokenize=False, add_generation_prompt=True)
    assert fake.seen and fake.seen[-1] == expected, "with system=None send only the user's message (the template then adds its own default system message), and pass the question on as it is, braces included"
    other = copy.deepcopy(tok)
    other.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
    fake = RecordingLLM()
    replies = within(10, chat_format_chain(fake, other, 'Be brief.').batch, [{'question': 'One?'}, {'question': 'Two?'}], hint='batch() on your chain should call the LLM once per question')
    assert fake.seen[:1] == ['[system] Be brief.\n[user] One?\n[assistant] '], "use the tokenizer's own chat template (tokenizer.apply_chat_template), not a format written by hand: this tokenizer's template is different"
    assert sorted(fake.seen) == sorted(['[system] Be brief.\n[user] One?\n[assistant] ', '[system] Be brief.\n[user] Two?\n[assistant] ']) and len(replies) == 2, 'the chain must work for .batch() too: one prompt per question'

@test_case(points=None, hidden=True)
def test_system_text_with_braces(chat_format_chain):
    from langchain_core.language_models.llms import LLM
    from transformers import AutoTokenizer
    from course_utils.exercises import CheckTimedOut, within
    from course_utils.models import tiny_model_path

    class RecordingLLM(LLM):
        seen: list = []

        @property
        def _llm_type(self):
            return 'recording'

        def _call(self, prompt, stop=None, run_manager=None, **kwargs):
            self.seen.append(prompt)
            return 'ok'
    tok = AutoTokenizer.from_pretrained(tiny_model_path())
    template_hint = 'PromptTemplate, ChatPromptTemplate and str.format read { } as variables (and {{ }} as escaped braces): put `system` into the messages as it is, and apply the chat template to them'
    for system in ('Reply in JSON, as {"answer": "..."}.', 'Keep {{name}} and {x} as they are.'):
        fake = RecordingLLM()
        try:
            built = within(10, chat_format_chain, fake, tok, system, hint='chat_format_chain only builds the chain: does it loop?')
            within(10, built.invoke, {'question': 'Where is Rome?'}, hint='invoking your chain should call the LLM once and return')
        except CheckTimedOut:
            raise
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f'a system message with braces broke your chain ({type(err).__name__}): it reads the system text as a template. {template_hint}') from None
        expected = tok.apply_chat_template([{'role': 'system', 'content': system}, {'role': 'user', 'content': 'Where is Rome?'}], tokenize=False, add_generation_prompt=True)
        assert fake.seen and fake.seen[-1] == expected, f'the braces of a system message changed on the way to the LLM: {template_hint}'

