from otter.test_files import test_case

OK_FORMAT = False

name = "streaming_stop"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_cuts_while_streaming(cut_at_stop):
    runnable = cut_at_stop(['CD'])
    assert hasattr(runnable, 'transform'), 'return a runnable (RunnableGenerator(...))'
    assert list(runnable.transform(iter(['ab', 'C', 'Dxyz']))) == ['ab'], 'a stop string split across pieces must be cut, and never output'
    assert list(cut_at_stop(['\n']).transform(iter(['Hel', 'lo\nWor', 'ld']))) == ['Hel', 'lo'], 'pass text on as it comes, up to the stop'
    assert list(runnable.transform(iter(['ab', 'C', 'x']))) == ['ab', 'Cx'], 'hold back only what could start a stop string, and give it back when it does not'
    assert runnable.invoke('abCDef') == 'ab', 'invoke gives the whole cut text'

