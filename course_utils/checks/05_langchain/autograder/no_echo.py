# generated from notebooks/masters/05_langchain.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "no_echo"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_completion_only_and_pipe_untouched(no_echo):
    import copy
    from langchain_huggingface import HuggingFacePipeline
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import pipeline as make_pipeline
    from course_utils.exercises import answered, within
    from course_utils.models import tiny_model_path
    assert answered(no_echo), 'write no_echo first: its body is still `...`'
    path = str(tiny_model_path())
    model, tok = (AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path))
    shared = make_pipeline('text-generation', model=model, tokenizer=tok, device=model.device, do_sample=True, max_new_tokens=30, num_return_sequences=2)

    def state():
        return copy.deepcopy((shared._generate_kwargs, shared._preprocess_params, shared._forward_params, shared._postprocess_params, shared.model.generation_config.to_dict(), str(shared.model.device), shared.tokenizer.padding_side))
    before = state()
    made = within(30, no_echo, shared, 5, hint='no_echo only builds an LLM: does it loop?')
    inner = made if isinstance(made, HuggingFacePipeline) else getattr(made, 'bound', None)
    assert isinstance(inner, HuggingFacePipeline), 'return a HuggingFacePipeline (or one with settings bound: llm.bind(...))'
    assert inner.pipeline.model is shared.model, "use pipe's own model (pipe.model): do not load or copy another one"
    assert inner.pipeline.tokenizer is shared.tokenizer, "use pipe's own tokenizer (pipe.tokenizer): do not load another one"
    prompt = 'The weather today is'
    try:
        answer = within(30, made.invoke, prompt, hint='one short generation on a tiny model: does it loop?')
    except ValueError as err:
        if 'num_return_sequences' not in str(err):
            raise
        raise AssertionError("pipe asks for two completions per prompt (num_return_sequences=2), which greedy decoding refuses: ask for one (num_return_sequences=1) along with your greedy settings, or build a new pipeline around pipe's model with settings of its own") from None
    assert isinstance(answer, str), 'invoke() on what you return should give a string'
    assert not answer.startswith(prompt), 'the prompt is echoed: set return_full_text=False where the pipeline is built, or per call'
    greedy = make_pipeline('text-generation', model=model, tokenizer=AutoTokenizer.from_pretrained(path), device=model.device, do_sample=False, return_full_text=False)
    expected = greedy(prompt, max_new_tokens=5)[0]['generated_text']
    if answer != expected:
        assert not (expected.startswith(answer) and answer != expected), 'generate up to max_new_tokens new tokens: your answer stops before'
        longer = greedy(prompt, max_new_tokens=30)[0]['generated_text']
        assert not (answer.startswith(expected) and len(answer) > len(expected)), 'generate at most max_new_tokens new tokens: pipe allows 30'
        raise AssertionError('generate greedily (do_sample=False): pipe samples' if answer != longer else 'generate at most max_new_tokens new tokens: pipe allows 30')
    assert state() == before, "pipe's settings changed: leave pipe as it was (build a new pipeline around its model, or pass settings per call) instead of changing it"
    assert shared(prompt, max_new_tokens=2)[0]['generated_text'].startswith(prompt), 'pipe no longer echoes: other code relies on it, leave it as it was'

@test_case(points=None, hidden=True)
def test_batch_and_another_budget(no_echo):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import pipeline as make_pipeline
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path
    path = str(tiny_model_path())
    model, tok = (AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path))
    prompts = ['The sea is', 'The sky was']
    budget = 8
    runs = []
    for prompt in prompts:
        ids = tok(prompt, return_tensors='pt')
        new = model.generate(**ids, max_new_tokens=budget, do_sample=False)
        runs.append(new[0, ids['input_ids'].shape[1]:])
    ends = [(row, k) for row, run in enumerate(runs) for k in range(1, budget - 1) if run[k] not in run[:k] and all((run[k] not in other for other in runs if other is not run))]
    early = None
    if ends:
        early, k = ends[0]
        model.generation_config.eos_token_id = [model.generation_config.eos_token_id, int(runs[early][k])]
    shared = make_pipeline('text-generation', model=model, tokenizer=tok, device=model.device, do_sample=True, max_new_tokens=30, num_return_sequences=2)
    made = within(30, no_echo, shared, budget, hint='no_echo only builds an LLM: does it loop?')
    answers = within(30, made.batch, prompts, hint='two short generations on a tiny model')
    greedy = make_pipeline('text-generation', model=model, tokenizer=AutoTokenizer.from_pretrained(path), device=model.device, do_sample=False, return_full_text=False)
    expected = [greedy(p, max_new_tokens=budget)[0]['generated_text'] for p in prompts]
    assert not any((a.startswith(p) for a, p in zip(answers, prompts))), 'batch() still echoes the prompts: the fix must hold for batch() as well as invoke()'
    if early is not None and answers[early] != expected[early]:
        before_the_end = tok.decode(runs[early][:k], skip_special_tokens=True)
        went_on = answers[early].startswith(before_the_end) and (not expected[early].startswith(answers[early]))
        assert not went_on, 'the model ends one of these answers early, with its end-of-sequence token, and yours went on: generate at most max_new_tokens new tokens, and let the answer end where the model ends it (do not force a length, as min_new_tokens does)'
    assert answers == expected, "batch() should give each prompt's greedy completion, at most max_new_tokens (here 8) tokens"

@test_case(points=None, hidden=True)
def test_model_stays_where_it_is(no_echo):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers import pipeline as make_pipeline
    from course_utils.exercises import within
    from course_utils.models import tiny_model_path
    path = str(tiny_model_path())
    with torch.device('meta'):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path))
    shared = make_pipeline('text-generation', model=model, tokenizer=AutoTokenizer.from_pretrained(path), device=model.device, do_sample=True, max_new_tokens=30, num_return_sequences=2)
    try:
        within(30, no_echo, shared, 4, hint='no_echo only builds an LLM: does it loop?')
    except NotImplementedError:
        raise AssertionError("building your LLM moved pipe's model to another device (on a GPU machine this moves the model under other code's feet): pipeline() without `device` puts the model on the first accelerator; pass device=pipe.device") from None
    assert shared.model.device.type == 'meta', "pipe's model moved: give the new pipeline device=pipe.device so that the model stays put"

