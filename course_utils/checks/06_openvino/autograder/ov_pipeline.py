from otter.test_files import test_case

OK_FORMAT = False

name = "ov_pipeline"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_ov_pipeline(load_ov_pipeline, EXPORTED):
    settings = {'PERFORMANCE_HINT': 'LATENCY', 'KV_CACHE_PRECISION': 'u8'}
    made = load_ov_pipeline(EXPORTED['int8'], settings)
    assert type(made.model).__name__ == 'OVModelForCausalLM', 'load the OpenVINO model'
    compiled = made.model.request.get_compiled_model()
    assert str(compiled.get_property('KV_CACHE_PRECISION')) == "<Type: 'uint8_t'>", 'pass ov_config when loading'
    prompt = 'The capital of France is'
    text = made(prompt, max_new_tokens=5, do_sample=False)[0]['generated_text']
    assert not text.startswith(prompt), 'return only the completion (return_full_text=False)'

