from otter.test_files import test_case

OK_FORMAT = False

name = "make_chain"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_chain_fills_the_template(make_chain, QA_TEMPLATE):
    from langchain_core.language_models import FakeListLLM
    seen = []
    fake = FakeListLLM(responses=['Paris.'])
    fake_chain = make_chain(fake)
    assert hasattr(fake_chain, 'invoke'), 'return the chain itself (a Runnable), not its result'
    answer = fake_chain.invoke({'question': 'What is the capital of France?'})
    assert answer == 'Paris.', "the chain returns the LLM's text (end it with StrOutputParser())"
    from langchain_core.runnables import RunnableLambda
    echo_chain = make_chain(RunnableLambda(lambda p: seen.append(p.to_string()) or 'ok'))
    echo_chain.invoke({'question': 'Why?'})
    assert seen == [QA_TEMPLATE.format(question='Why?')], 'fill in QA_TEMPLATE with the question'

