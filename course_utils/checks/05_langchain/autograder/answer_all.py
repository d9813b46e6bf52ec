from otter.test_files import test_case

OK_FORMAT = False

name = "answer_all"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_batch_in_order(answer_all):
    from langchain_core.runnables import Runnable

    class Recorder(Runnable):

        def __init__(self):
            self.batches, self.invokes = ([], 0)

        def invoke(self, value, config=None, **kwargs):
            self.invokes += 1
            return f"  {value['question'].upper()}\n"

        def batch(self, values, config=None, **kwargs):
            self.batches.append(list(values))
            return [f"  {v['question'].upper()}\n" for v in values]
    recorder = Recorder()
    answers = answer_all(recorder, ['a', 'b', 'c'])
    assert recorder.invokes == 0 and len(recorder.batches) == 1, 'use one chain.batch([...]) call, not invoke per question'
    assert recorder.batches[0] == [{'question': 'a'}, {'question': 'b'}, {'question': 'c'}], "pass one {'question': ...} dict per question"
    assert answers == ['A', 'B', 'C'], 'return the answers in order, stripped'

