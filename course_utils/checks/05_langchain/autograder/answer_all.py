# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "answer_all"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_batch_in_order(answer_all):
    from langchain_core.runnables import Runnable
    from course_utils.exercises import answered, within

    class Recorder(Runnable):

        def __init__(self):
            self.batches, self.configs, self.invokes = ([], [], 0)

        def invoke(self, value, config=None, **kwargs):
            self.invokes += 1
            return f"  {value['question'].upper()}\n"

        def batch(self, values, config=None, **kwargs):
            self.batches.append(list(values))
            self.configs.append(config)
            return [f"  {v['question'].upper()}\n" if isinstance(v, dict) else '?' for v in values]
    assert answered(answer_all), 'write answer_all first: its body is still `...`'
    recorder = Recorder()
    answers = within(10, answer_all, recorder, ['b?', 'c?', 'a?'], hint='does answer_all loop?')
    assert recorder.invokes == 0, 'use one chain.batch([...]) call, not invoke() per question'
    assert len(recorder.batches) == 1, 'send every question in one chain.batch([...]) call (you made %d)' % len(recorder.batches)
    assert recorder.batches[0] == [{'question': 'b?'}, {'question': 'c?'}, {'question': 'a?'}], "pass one {'question': ...} dict per question, in the questions' order"
    assert isinstance(answers, list), 'return a list of answers'
    assert answers == ['B?', 'C?', 'A?'], "return the answers in the questions' order, surrounding whitespace (spaces, new lines) stripped"

@test_case(points=None, hidden=True)
def test_real_chain_concurrency_and_empty(answer_all):
    from langchain_core.language_models import FakeListLLM
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import Runnable
    from course_utils.exercises import within

    class Recorder(Runnable):

        def __init__(self):
            self.configs = []

        def invoke(self, value, config=None, **kwargs):
            return value['question']

        def batch(self, values, config=None, **kwargs):
            self.configs.append(config)
            return [f"{v['question']} ({i})" for i, v in enumerate(values)]
    recorder = Recorder()
    answers = within(10, answer_all, recorder, ['x', 'y', 'x', 'z'], hint='does answer_all loop?')
    assert answers == ['x (0)', 'y (1)', 'x (2)', 'z (3)'], 'a question asked twice gets an answer each time, its own (an LLM that samples answers it differently): return every answer chain.batch gives, one per question, in order'
    limits = [c.get('max_concurrency') for c in recorder.configs if isinstance(c, dict)]
    assert not any((limit is not None and limit < 4 for limit in limits)), "do not limit the batch's concurrency (max_concurrency): the LLM should get every prompt at once"
    fake = FakeListLLM(responses=['\tone \n', ' two', 'three\n\n'])
    chain = PromptTemplate.from_template('Q: {question}\nA:') | fake | StrOutputParser()
    answers = within(10, answer_all, chain, ['1?', '2?', '3?'], hint='does answer_all loop?')
    assert answers == ['one', 'two', 'three'], 'with a real LangChain chain: one answer per question, in order, whitespace stripped'
    assert within(10, answer_all, chain, [], hint='does answer_all loop?') == [], 'no questions: return an empty list'

