from otter.test_files import test_case

OK_FORMAT = False

name = "langchain_openvino"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_openvino_llm(openvino_llm, EXPORTED):
    from optimum.intel import OVModelForCausalLM
    from transformers import AutoTokenizer
    made = openvino_llm(EXPORTED['int4'], max_new_tokens=6)
    model = made.pipeline.model
    assert type(model).__name__ == 'OVModelForCausalLM', "use backend='openvino'"
    compiled = model.request.get_compiled_model()
    assert str(compiled.get_property('PERFORMANCE_HINT')) == 'LATENCY', 'give ov_config through model_kwargs'
    prompt = '<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n'
    answer = made.invoke(prompt)
    assert not answer.startswith('<|im_start|>'), 'return only the completion'
    tokenizer = AutoTokenizer.from_pretrained(EXPORTED['int4'])
    reference = OVModelForCausalLM.from_pretrained(EXPORTED['int4'])
    ids = tokenizer(prompt, return_tensors='pt')
    out = reference.generate(**ids, max_new_tokens=6, do_sample=False)
    expected = tokenizer.decode(out[0, ids['input_ids'].shape[1]:], skip_special_tokens=True)
    assert answer == expected, 'greedy (do_sample=False), at most max_new_tokens new tokens'

