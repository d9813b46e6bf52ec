# generated from notebooks/masters/08_structured_output.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "record_automaton"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_reads_a_record_character_by_character(Record):
    from course_utils.exercises import answered, within
    assert answered(Record), 'write the class Record above'
    fields = {'city': 'string', 'year': 'integer'}

    def read(text):
        """(the index of the first refused character or None, accepted at the end)"""
        automaton = within(10, Record, fields, hint='Record(fields) did not return within 10 s')
        state = automaton.start
        for i, char in enumerate(text):
            hashable(state)
            state = within(5, automaton.step, state, char, hint='step() did not return within 5 s')
            if state is None:
                return (i, False)
        hashable(state)
        return (None, bool(automaton.accepts(state)))

    def hashable(state):
        try:
            hash(state)
        except TypeError:
            raise AssertionError(f"a state must be hashable (a string, a number, a tuple), got {state!r}: the processor keeps each state's mask in a dict") from None
    for text in ['{"city": "Paris", "year": 1989}', '{"city": "New York", "year": 0}', '{"city": "?", "year": 123456789}']:
        refused, accepted = read(text)
        assert refused is None, f'{text} is a valid record, but your automaton refused the character {text[refused]!r} at position {refused} (after {text[:refused]!r})'
        assert accepted, f'{text} is a complete record: accepts() must be true after its closing }}'
    for text, why in [('{"city": "Paris", "year": 1989', 'the record is not complete before its closing }'), ('{"city": "Paris"', 'the record is not complete before every key is read'), ('{"city": "Paris",', 'the record is not complete before every key is read')]:
        refused, accepted = read(text)
        assert refused is None and (not accepted), f'{text}: {why}: accepts() must be false there'
    for text, at, why in [('{"city":"Paris", "year": 1989}', 8, "the layout is json.dumps's: a space after each colon"), ('{"year": 1989, "city": "Paris"}', 2, 'the keys come in the order of fields'), ('{"city": "", "year": 1989}', 10, 'a string value has at least one character'), ('{"city": "Paris", "year": 01}', 27, 'an integer does not start with 0 (except 0 itself)'), ('{"city": "Paris", "year": "1989"}', 26, 'an integer value is digits, not a string'), ('{"city": "Paris", "year": 1989} ', 31, 'nothing may follow the closing }'), ('{"city": "Paris", "year": 1989, "x": 1}', 30, 'no key that is not in fields'), (' {"city": "Paris", "year": 1989}', 0, 'nothing may come before the opening {'), ('{"city": Paris, "year": 1989}', 9, 'a string value starts with a quote')]:
        refused, accepted = read(text)
        assert refused == at, f'{text}: {why}; your automaton ' + ('read it all' if refused is None else f'refused position {refused} ({text[refused]!r}) where it should refuse position {at} ({text[at]!r})')

