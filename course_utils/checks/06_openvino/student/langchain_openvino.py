# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "langchain_openvino"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_openvino_llm(openvino_llm, TINY_OV):
    import json
    import shutil
    import tempfile
    from pathlib import Path
    from unittest import mock
    import transformers.pipelines.base as pipeline_base
    from optimum.intel import OVModelForCausalLM
    from transformers import AutoTokenizer
    from course_utils.exercises import CheckTimedOut, answered, within
    assert answered(openvino_llm), 'write openvino_llm first (its body is still `...`)'
    hung = globals().setdefault('_hung_answers', set())
    assert id(openvino_llm) not in hung, 'your function did not answer in time in an earlier check'
    folder = Path(tempfile.mkdtemp(prefix='check-sampling-')) / 'model'
    shutil.copytree(TINY_OV, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = '<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n'

    def greedy_ids(model, text, n=32):
        ids = tokenizer(text, return_tensors='pt')
        return model.generate(**ids, max_new_tokens=n, do_sample=False)[0, ids['input_ids'].shape[1]:]
    original = OVModelForCausalLM.from_pretrained(folder)
    colour_run = greedy_ids(original, prompt).tolist()
    early = None
    for candidate in ('The sky was', 'The sea is', 'Once upon a time'):
        run = greedy_ids(original, candidate, 6).tolist()
        k = next((k for k in range(1, 5) if run[k] not in run[:k] and run[k] not in colour_run), None)
        if k is not None:
            early = (candidate, k, run[k])
            break
    settings = json.loads((folder / 'generation_config.json').read_text())
    settings.update(do_sample=True, temperature=1.0, top_k=0)
    if early is not None:
        eos = settings.get('eos_token_id')
        settings['eos_token_id'] = ([eos] if isinstance(eos, int) else list(eos or [])) + [early[2]]
    (folder / 'generation_config.json').write_text(json.dumps(settings))
    hint = 'does your function wait for something (input(), a lock)?'
    moved_to_gpu = False
    try:
        with mock.patch.object(pipeline_base, 'is_torch_cuda_available', return_value=True):
            try:
                llm = within(30, openvino_llm, str(folder), max_new_tokens=6, hint=hint)
            except Exception as err:
                if 'CUDA' not in str(err):
                    raise
                moved_to_gpu = True
        if moved_to_gpu:
            llm = within(30, openvino_llm, str(folder), max_new_tokens=6, hint=hint)
    except CheckTimedOut:
        hung.add(id(openvino_llm))
        raise
    except Exception as err:
        raise AssertionError(f"your function raised {type(err).__name__}: {str(err).strip()[:150]}. If it is about a device: OpenVINO's device goes to OVModelForCausalLM.from_pretrained (through model_kwargs with from_model_id), not to from_model_id's own `device`, which is PyTorch's") from None
    assert type(llm).__name__ == 'HuggingFacePipeline', "return LangChain's HuggingFacePipeline"
    assert type(llm.pipeline.model).__name__ == 'OVModelForCausalLM', "the pipeline's model is not an OpenVINO model: use backend='openvino' (or an OVModelForCausalLM)"
    assert not moved_to_gpu and llm.pipeline.device.type == 'cpu', "on a machine with a CUDA GPU (a Colab GPU runtime) your pipeline would run on cuda:0 (pipeline() without a device takes the first accelerator) while OpenVINO computes on the CPU: give the pipeline device='cpu' (or device=-1 to from_model_id)"
    try:
        answer = within(30, llm.invoke, prompt, hint=hint)
    except CheckTimedOut:
        hung.add(id(openvino_llm))
        raise
    assert isinstance(answer, str) and (not answer.startswith('<|im_start|>')), 'return only the completion: build the pipeline with return_full_text=False'
    reference = OVModelForCausalLM.from_pretrained(folder)
    greedy = greedy_ids(reference, prompt)
    expected = tokenizer.decode(greedy[:6], skip_special_tokens=True)
    if answer != expected:
        longer = tokenizer.decode(greedy, skip_special_tokens=True)
        assert not (answer and (longer.startswith(answer) or answer.startswith(expected))), 'greedy, but not the right length: pass max_new_tokens on to the pipeline'
        raise AssertionError("not the greedy answer: this model's generation config samples, so set do_sample=False for the pipeline")
    if early is not None:
        candidate, k, _ = early
        try:
            ended = within(30, llm.invoke, candidate, hint=hint)
        except CheckTimedOut:
            hung.add(id(openvino_llm))
            raise
        stops = greedy_ids(reference, candidate)
        expected_early = tokenizer.decode(stops[:6], skip_special_tokens=True)
        if ended != expected_early:
            before_the_end = tokenizer.decode(stops[:k], skip_special_tokens=True)
            assert not (ended.startswith(before_the_end) and (not expected_early.startswith(ended))), 'the model ends this answer early, with its end-of-sequence token, and yours went on: generate at most max_new_tokens new tokens, and let the answer end where the model ends it (do not force a length, as min_new_tokens does)'
            raise AssertionError('not the greedy answer for a second prompt: set do_sample=False for the pipeline, and pass max_new_tokens on')

