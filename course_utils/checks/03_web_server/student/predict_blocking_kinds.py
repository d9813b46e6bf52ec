# generated from notebooks/masters/03_web_server.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_blocking_kinds"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_blocking_kinds(blocking_kinds):
    from course_utils.exercises import answered
    assert answered(blocking_kinds), 'write your prediction first, e.g. blocking_kinds = "ab"'
    if isinstance(blocking_kinds, str):
        letters = {ch for ch in blocking_kinds.lower() if ch.isalnum()}
    elif isinstance(blocking_kinds, (list, tuple, set, frozenset)) and all((isinstance(item, str) for item in blocking_kinds)):
        letters = {item.strip().strip('().').lower() for item in blocking_kinds}
    else:
        raise AssertionError('write the letters as one string, e.g. blocking_kinds = "ab"')
    assert letters <= {'a', 'b', 'c'}, 'use only the letters a, b and c'
    assert 'a' in letters, '(a) is missing: in the table above, did /health wait behind the async def that calls the model?'
    assert 'b' not in letters, '(b) did not make /health wait: look at its row in the table above, then read the explanation below the check'
    assert 'c' not in letters, '(c) did not make /health wait: look at its row in the table above, then read the explanation below the check'

