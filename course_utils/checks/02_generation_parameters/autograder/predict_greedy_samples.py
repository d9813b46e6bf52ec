# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_greedy_samples"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_greedy_samples(predict_greedy_samples, model, tokenizer):
    import torch
    from course_utils.exercises import answered
    assert answered(predict_greedy_samples), "write your prediction first: one letter in quotes, for example predict_greedy_samples = 'a'"
    assert isinstance(predict_greedy_samples, str) and predict_greedy_samples.strip().strip('().').strip().lower() in {'a', 'b', 'c'}, 'answer with one of the letters a, b or c, as a string in quotes'
    inputs = tokenizer('Suggest a name for a cat.', return_tensors='pt').to(model.device)
    try:
        with torch.inference_mode():
            out = model.generate(**inputs, do_sample=False, num_return_sequences=3, max_new_tokens=2)
        truth = 'a' if all((torch.equal(row, out[0]) for row in out)) else 'b'
    except ValueError:
        truth = 'c'
    assert predict_greedy_samples.strip().strip('().').strip().lower() == truth, 'that is not what the experiment shows: read what it printed, then the explanation below the check'

