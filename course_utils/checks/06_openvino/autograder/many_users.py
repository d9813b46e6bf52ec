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

@test_case(points=None, hidden=True)
def test_many_users_limits(load_for_many_users, TINY_OV):
    import os
    import re
    from pathlib import Path
    from unittest import mock
    import openvino as ov
    from course_utils.exercises import within
    hint = 'does your function wait for something (input(), a lock)?'
    core = ov.Core()

    def reference(streams=None, kv_cache=None):
        config = {'PERFORMANCE_HINT': 'THROUGHPUT'}
        config.update({} if streams is None else {'NUM_STREAMS': str(streams)})
        config.update({} if kv_cache is None else {'KV_CACHE_PRECISION': kv_cache})
        return core.compile_model(Path(TINY_OV) / 'openvino_model.xml', 'CPU', config)
    automatic = reference().get_property('NUM_STREAMS')
    too_many = 8 * (os.cpu_count() or 1) + 8
    cap = reference(too_many).get_property('NUM_STREAMS')
    streams = next((n for n in range(1, cap + 1) if n != automatic), 1)
    for kv_cache in ('u8', 'f16', 'f32'):
        try:
            model = within(30, load_for_many_users, TINY_OV, streams, kv_cache, hint=hint)
        except ValueError as err:
            raise AssertionError(f'{streams} stream(s) compile on this machine, yet your function raised ValueError ({err}): compare the compiled NUM_STREAMS with `streams`') from None
        compiled = model.request.get_compiled_model()
        assert compiled.get_property('NUM_STREAMS') == streams, f'you asked for {streams} stream(s) and the compiled model has another number: set NUM_STREAMS'
        kv_got = str(compiled.get_property('KV_CACHE_PRECISION'))
        assert kv_got == str(reference(streams, kv_cache).get_property('KV_CACHE_PRECISION')), f'with kv_cache={kv_cache!r} the KV cache is stored otherwise: set KV_CACHE_PRECISION from `kv_cache`'
    if cap >= too_many:
        return
    with mock.patch('os.cpu_count', return_value=4 * too_many):
        try:
            within(30, load_for_many_users, TINY_OV, too_many, 'f16', hint=hint)
        except ValueError as err:
            assert re.search(f'(?<![0-9]){cap}(?![0-9])', str(err)), 'your ValueError should say how many streams the compiled model has (NUM_STREAMS)'
        else:
            raise AssertionError(f'you asked for {too_many} streams, OpenVINO compiled fewer, and your function did not raise ValueError: read NUM_STREAMS back from the compiled model')

