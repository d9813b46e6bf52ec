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

