from otter.test_files import test_case

OK_FORMAT = False

name = "no_echo"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_only_the_completion(no_echo_llm):
    from transformers import pipeline as make_pipeline
    from course_utils.models import tiny_model_path
    path = str(tiny_model_path())
    made = no_echo_llm(path, max_new_tokens=6)
    prompt = 'The weather today is'
    answer = made.invoke(prompt)
    assert isinstance(answer, str), 'return a HuggingFacePipeline; its invoke() gives a string'
    assert not answer.startswith(prompt), 'the prompt is echoed: build the pipeline with return_full_text=False (section 2)'
    reference = make_pipeline('text-generation', model=path, max_new_tokens=6, do_sample=False, return_full_text=False)(prompt)[0]['generated_text']
    assert answer == reference, 'generate greedily (do_sample=False) with max_new_tokens new tokens'

