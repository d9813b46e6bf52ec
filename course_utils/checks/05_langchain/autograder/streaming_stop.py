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

@test_case(points=None, hidden=True)
def test_several_stops_and_no_empty_pieces(cut_at_stop):
    from langchain_core.runnables import RunnableLambda
    out = list(cut_at_stop(['###', '\n\n']).transform(iter(['a#', '#', 'b', '\n', '\nz'])))
    assert ''.join(out) == 'a##b' and '' not in out, out
    assert list(cut_at_stop(['END']).transform(iter(['END', 'more']))) == [], 'nothing before the stop'
    assert list(cut_at_stop(['zz']).transform(iter(['no', ' stop']))) == ['no', ' stop']
    chain = RunnableLambda(lambda x: x) | cut_at_stop(['.'])
    assert chain.invoke('One. Two.') == 'One'

