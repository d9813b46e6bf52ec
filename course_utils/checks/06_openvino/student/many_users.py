# generated from notebooks/masters/06_openvino.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "many_users"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_many_users(load_for_many_users, TINY_OV):
    from course_utils.exercises import answered, within
    assert answered(load_for_many_users), 'write load_for_many_users first (its body is still `...`)'
    hint = 'does your function wait for something (input(), a lock)?'
    try:
        model = within(30, load_for_many_users, TINY_OV, 1, 'f32', hint=hint)
    except ValueError as err:
        raise AssertionError(f'1 stream is always possible, yet your function raised ValueError ({err}): compare the compiled NUM_STREAMS (a number) with `streams`') from None
    assert type(model).__name__ == 'OVModelForCausalLM', 'return the OVModelForCausalLM itself (not a pipeline, a request or a compiled model)'
    assert model.request is not None, 'the model is not compiled: load it without compile=False, or call model.compile() before returning'
    compiled = model.request.get_compiled_model()
    assert str(compiled.get_property('PERFORMANCE_HINT')) == 'THROUGHPUT', 'the compiled PERFORMANCE_HINT is not THROUGHPUT: put the hint in ov_config'
    assert compiled.get_property('NUM_STREAMS') == 1, 'you asked for 1 stream and the compiled model has another number: set NUM_STREAMS from `streams`'
    assert 'float32' in str(compiled.get_property('KV_CACHE_PRECISION')), 'the KV cache is not stored as `kv_cache` says: set KV_CACHE_PRECISION from `kv_cache`'

