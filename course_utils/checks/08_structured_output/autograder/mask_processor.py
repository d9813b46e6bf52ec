# generated from notebooks/masters/08_structured_output.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "mask_processor"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_masks_each_row_in_its_own_state(MaskProcessor, Choices):
    import torch
    from course_utils.exercises import answered, within
    assert answered(MaskProcessor), 'write the class MaskProcessor above'
    vocabulary = ['ye', 's', 'no', 'y', 'x', 'es', None]
    end, inf = (7, float('-inf'))
    processor = MaskProcessor(Choices(['yes', 'no']), vocabulary, end)
    prompt = torch.tensor([[4, 4, 4], [4, 4, 4]])
    scores = torch.arange(16, dtype=torch.float).reshape(2, 8) * 0.5 + 0.25

    def call(ids, given):
        got = within(10, processor, ids, given.clone(), hint='your processor did not return within 10 s')
        assert isinstance(got, torch.Tensor) and got.shape == given.shape, '__call__ must return the scores: a tensor of the shape it was given'
        return got
    first = call(prompt, scores)
    changed = [(row, i) for row in range(2) for i in range(8) if first[row, i] != inf and first[row, i] != scores[row, i]]
    assert not changed, f"the scores at {changed[:4]} are neither -inf nor what they were: a token that is not allowed gets -inf (float('-inf'), not 0 or a large negative number), an allowed one keeps its score unchanged"
    want = {0, 2, 3}
    for row in range(2):
        allowed = {i for i in range(8) if first[row, i] != inf}
        assert allowed == want, f'at the first step (nothing generated yet) row {row} allowed tokens {sorted(allowed)}, not {sorted(want)}: the prompt is not part of the answer, every row starts in automaton.start'
        assert all((first[row, i] == scores[row, i] for i in want)), 'keep the score of each allowed token unchanged (only the others become -inf)'
    second = call(torch.cat([prompt, torch.tensor([[0], [2]])], dim=1), scores)
    assert {i for i in range(8) if second[0, i] != inf} == {1}, 'after "ye", only "s" can follow ("es" would give "yees"): each row\'s state is the text of the tokens generated in it since the first call'
    assert {i for i in range(8) if second[1, i] != inf} == {end}, 'row 1 read "no", a whole choice, while row 0 read "ye": only the end token is allowed in row 1. Each row has its own state, from the tokens generated in that row'

@test_case(points=None, hidden=False)
def test_generate_with_the_course_model(MaskProcessor, Choices, TOKEN_TEXTS, EOS, generate):
    from course_utils.exercises import answered, within
    assert answered(MaskProcessor), 'write the class MaskProcessor above'
    labels = ['positive', 'negative', 'neutral']
    reviews = ['Loved every page of it.', 'The worst film I have seen.', 'It is a book about cats.', 'Broken on arrival, no refund.']
    prompts = [f'Classify the sentiment of this review as positive, negative or neutral.\nReview: {text}' for text in reviews]
    answers = within(120, generate, prompts, MaskProcessor(Choices(labels), TOKEN_TEXTS, EOS), 8, hint="generate() with your processor did not end within 2 minutes: is each state's mask kept, so that a state met again costs a lookup?")
    wrong = [answer for answer in answers if answer not in labels]
    assert not wrong, f'with your processor the model answered {wrong!r}, which are not labels: mask every token that cannot continue a label, and allow the end token once a label is complete'

@test_case(points=None, hidden=True)
def test_finished_rows_and_one_scan_per_state(MaskProcessor):
    import torch
    from course_utils.exercises import answered, within
    assert answered(MaskProcessor), 'write the class MaskProcessor above'

    class Digits:
        """One to three digits; counts the characters it is asked about."""
        start = ''

        def __init__(self):
            self.steps = 0

        def step(self, state, char):
            self.steps += 1
            return state + char if char in '0123456789' and len(state) < 3 else None

        def accepts(self, state):
            return len(state) >= 1
    vocabulary = ['1', '2', '34', 'a', '5', 'b6', '7', '8', '9', '0'] * 20
    end, inf = (200, float('-inf'))
    automaton = Digits()
    processor = MaskProcessor(automaton, vocabulary, end)
    ids = torch.tensor([[3, 3], [3, 3], [3, 3]])
    scores = torch.zeros(3, 201)
    within(10, processor, ids, scores.clone(), hint='no answer within 10 s')
    assert automaton.steps > 0, 'the processor never asked the automaton about any token'
    reader = Digits()
    for text in vocabulary:
        state = reader.start
        for char in text:
            state = reader.step(state, char)
            if state is None:
                break
    one_scan = reader.steps
    for _ in range(6):
        ids = torch.cat([ids, torch.tensor([[end], [end], [end]])], dim=1)
        got = within(10, processor, ids, scores.clone(), hint='no answer within 10 s')
        for row in range(3):
            allowed = [i for i in range(201) if got[row, i] != inf]
            assert allowed == [end], f'a row that has produced the end token allowed {len(allowed)} tokens: a finished row may only be padded with the end token, allow eos_id alone'
    automaton = Digits()
    processor = MaskProcessor(automaton, vocabulary, end)
    ids = torch.tensor([[3], [3], [3]])
    for _ in range(3):
        within(10, processor, ids, scores.clone(), hint='no answer within 10 s')
        ids = torch.cat([ids, torch.tensor([[0], [0], [0]])], dim=1)
    distinct = 3
    assert automaton.steps <= distinct * one_scan * 1.5, f"the automaton was asked {automaton.steps} times over three steps of three rows in the same states, where one scan of the vocabulary per state asks about {distinct * one_scan}: keep each state's allowed tokens (a dict from state to tokens) and scan the vocabulary once per state"

