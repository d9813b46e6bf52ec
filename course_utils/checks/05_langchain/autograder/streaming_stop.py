# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "streaming_stop"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_cuts_while_streaming(cut_at_stop):
    from course_utils.exercises import answered, within

    def run(stops, pieces):
        """The pieces out, and what had come out before each piece in was asked for."""
        out, seen_before = ([], [])

        def source():
            for piece in pieces:
                seen_before.append(''.join(out))
                yield piece

        def drain():
            for piece in cut_at_stop(stops).transform(source()):
                out.append(piece)
            return out
        within(10, drain, hint='your generator did not finish: does it loop after the last piece?')
        return (out, seen_before)
    assert answered(cut_at_stop), 'write cut_at_stop first: its body is still `...`'
    runnable = within(10, cut_at_stop, ['CD'], hint='cut_at_stop only builds a runnable: does it loop?')
    assert hasattr(runnable, 'transform') and hasattr(runnable, 'invoke'), 'return a runnable (for example RunnableGenerator(your_generator_function))'
    out, _ = run(['CD'], ['ab', 'C', 'Dxyz'])
    assert ''.join(out) == 'ab', 'a stop string split across pieces must be cut, and never output'
    out, before = run(['\n'], ['Hel', 'lo\nWor', 'ld'])
    assert ''.join(out) == 'Hello', 'end the text just before the stop string'
    assert before[1:2] == ['Hel'], 'pass text on as it streams: "Hel" cannot start "\\n", so it must come out before the next piece is read (do not wait for the whole text)'
    out, before = run(['CD'], ['ab', 'C', 'x'])
    assert ''.join(out) == 'abCx', 'text held back because it could start a stop string must come out when it turns out not to'
    assert before[1:] == ['ab', 'ab'], 'hold back only what could start a stop string'
    assert '' not in out, 'yield no empty pieces'
    whole = within(10, runnable.invoke, 'abCDef', hint='invoke() should return the cut text')
    assert whole == 'ab', 'invoke() gives the whole cut text'

@test_case(points=None, hidden=True)
def test_limits(cut_at_stop):
    from course_utils.exercises import within

    def run(stops, pieces):
        out, seen_before = ([], [])

        def source():
            for piece in pieces:
                seen_before.append(''.join(out))
                yield piece

        def drain():
            for piece in cut_at_stop(stops).transform(source()):
                out.append(piece)
            return out
        within(10, drain, hint='your generator did not finish: does it loop after the last piece?')
        return (out, seen_before)
    out, _ = run(['END'], ['END', 'more'])
    assert out == [], 'a stop at the very start: nothing comes out (not even an empty piece)'
    out, _ = run(['zz'], [])
    assert out == [], 'no pieces in: no pieces out'
    out, _ = run(['zz'], ['', 'no', '', ' stop', ''])
    assert ''.join(out) == 'no stop' and '' not in out, 'without a stop, all the text comes through, with no empty pieces'
    out, _ = run(['world', 'o'], ['hello world'])
    assert ''.join(out) == 'hell', 'several stop strings: cut at the one that occurs first in the text, whatever its place in the list'
    out, _ = run(['###', '\n\n'], ['a#', '#', 'b', '\n', '\nz'])
    assert ''.join(out) == 'a##b' and '' not in out, 'several stop strings, each arriving in parts: hold back what could start either, cut at the one found'
    out, before = run(['STOP'], ['xS', 'T', 'O', 'Py'])
    assert ''.join(out) == 'x', 'a stop string split across three pieces must still be cut'
    assert before[1:] == ['x', 'x', 'x'], 'pass on "x" at once: it cannot start "STOP"'
    out, _ = run(['abc'], ['xa', 'b'])
    assert ''.join(out) == 'xab', 'text held back at the end of the stream must come out when the stream ends'
    out, _ = run(['aab'], ['a', 'a', 'a', 'b'])
    assert ''.join(out) == 'a', 'a stop string can start inside the text you held back ("aaab" holds "aab")'
    for stops in (['ab', 'xabcd'], ['xabcd', 'ab']):
        out, before = run(stops, ['zxab', 'cd'])
        assert ''.join(out) == 'z', 'cut at the stop string that starts earliest in the text, even when another one is complete first: hold back text that may still begin an earlier stop string'
        assert before[1:] == ['z'], 'pass on "z" at once: it cannot start a stop string'
    out, _ = run(['ab', 'xabcd'], ['zxab', 'cq'])
    assert ''.join(out) == 'zx', 'a stop string that may start earlier and then does not come: cut at the complete one'
    out, _ = run(['.'], ['Wait', ' .'])
    assert ''.join(out) == 'Wait ', 'keep the text before the stop exactly as it came, a space before the stop string included (do not strip it)'
    whole = within(10, cut_at_stop([',']).invoke, 'Yes , no', hint='invoke() should return the cut text')
    assert whole == 'Yes ', 'invoke(): keep the text before the stop exactly as it came, a space before the stop string included (do not strip it)'

@test_case(points=None, hidden=True)
def test_in_a_streaming_chain(cut_at_stop):
    from langchain_core.language_models import FakeStreamingListLLM
    from langchain_core.runnables import RunnableLambda
    from course_utils.exercises import within
    fake = FakeStreamingListLLM(responses=['Hello there\nGeneral Kenobi'])
    chain = fake | cut_at_stop(['\n'])
    pieces = within(10, lambda: list(chain.stream('hi')), hint='streaming through your runnable did not end')
    assert ''.join(pieces) == 'Hello there' and len(pieces) > 1, 'in a chain whose LLM streams one character at a time, pass the pieces on as they come, up to the stop'
    chain = RunnableLambda(lambda x: x) | cut_at_stop(['.'])
    assert within(10, chain.invoke, 'One. Two.', hint='invoke() through a chain did not end') == 'One', 'chain.invoke() with your runnable at the end should give the cut text'

