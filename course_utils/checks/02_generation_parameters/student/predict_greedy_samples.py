# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_greedy_samples"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_greedy_samples(predict_greedy_samples, model, tokenizer):
    import torch
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_greedy_samples, 'predict_greedy_samples', 'abc')
    inputs = tokenizer('Suggest a name for a cat.', return_tensors='pt').to(model.device)
    try:
        with torch.inference_mode():
            out = model.generate(**inputs, do_sample=False, num_return_sequences=3, max_new_tokens=2)
        truth = 'a' if all((torch.equal(row, out[0]) for row in out)) else 'b'
    except ValueError:
        truth = 'c'
    reveal(letter, truth, 'Read what the experiment printed.')

