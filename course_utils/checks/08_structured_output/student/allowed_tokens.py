# generated from notebooks/masters/08_structured_output.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "allowed_tokens"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_a_small_vocabulary(allowed_tokens, Choices):
    from course_utils.exercises import answered, within
    assert answered(allowed_tokens), 'write allowed_tokens(automaton, state, token_texts, eos_id) above'
    vocabulary = ['ye', 'yes', 's', 'no', None, '', 'n', 'o', 'x', 'es!', 'y', 'yo', 'pe']
    end = 13
    answers = Choices(['yes', 'no', 'nope'])

    def ids(state):
        got = within(10, allowed_tokens, answers, state, vocabulary, end, hint='allowed_tokens did not return: does it loop over the vocabulary once?')
        assert isinstance(got, (set, frozenset)), f'return a set of token ids, got {type(got).__name__}'
        assert all((type(i) is int for i in got)), f'return token ids (ints), the positions in token_texts, got {sorted(map(repr, got))[:5]}'
        return got
    start = ids('')
    assert 4 not in start and 5 not in start, 'a token whose text is None or empty must never be allowed (it would add nothing, for ever)'
    assert {0, 1, 3, 6, 10} <= start, f'from the start, every token whose text begins a choice must be allowed: tokens {sorted({0, 1, 3, 6, 10} - start)} ({[vocabulary[i] for i in sorted({0, 1, 3, 6, 10} - start)]}) are missing'
    assert not start & {2, 7, 8, 9, 11, 12}, f"tokens {sorted(start & {2, 7, 8, 9, 11, 12})} ({[vocabulary[i] for i in sorted(start & {2, 7, 8, 9, 11, 12})]}) cannot start a choice: read each token's whole text with the automaton, every character"
    assert end not in start, 'the end token is allowed only when the state accepts (here: nothing read yet)'
    ye = ids('ye')
    assert 2 in ye, 'from the state "ye", the token "s" completes "yes": read from the state you are given'
    assert 9 not in ye, 'from "ye", the token "es!" cannot follow: every character of a token must be allowed'
    assert ids('yes') == {end}, 'after a whole choice, only the end token is allowed here (the state accepts, no choice goes on)'
    assert ids('no') == {12, end}, 'after "no", a whole choice that "nope" goes on from, the token "pe" and the end token are both allowed: the end token exactly when automaton.accepts(state), whatever else may follow'

@test_case(points=None, hidden=False)
def test_the_course_vocabulary(allowed_tokens, Choices, TOKEN_TEXTS, EOS, tokenizer, advance):
    from course_utils.exercises import answered, within
    assert answered(allowed_tokens), 'write allowed_tokens(automaton, state, token_texts, eos_id) above'
    labels = Choices(['positive', 'negative', 'neutral'])
    start = within(30, allowed_tokens, labels, '', TOKEN_TEXTS, EOS, hint="one state's mask took over 30 s: read each token's text once, stop at the first character that is refused")
    assert isinstance(start, (set, frozenset)), f'return a set of token ids, got {type(start).__name__}'
    first = tokenizer.encode('positive', add_special_tokens=False)[0]
    assert first in start, f'the first token of "positive" ({TOKEN_TEXTS[first]!r}) must be allowed at the start'
    wrong = sorted((i for i in start if i != EOS and (TOKEN_TEXTS[i] is None or advance(labels, '', TOKEN_TEXTS[i]) is None)))
    assert not wrong, f'tokens that cannot start a label were allowed: {[TOKEN_TEXTS[i] for i in wrong[:5]]}'
    assert EOS not in start, 'the end token must not be allowed before a whole label is read'
    done = within(30, allowed_tokens, labels, 'neutral', TOKEN_TEXTS, EOS, hint='no answer within 30 s')
    assert done == {EOS}, f'after "neutral", only the end token may come, got {len(done)} tokens'

