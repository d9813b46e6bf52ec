# generated from notebooks/masters/02_generation_parameters.ipynb by python -m course_utils.build: edit the master
from otter.test_files import test_case

OK_FORMAT = False

name = "predict_top_p_temperature"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_predict_top_p_temperature(predict_top_p_temperature, next_logits):
    import torch
    from transformers import TemperatureLogitsWarper, TopPLogitsWarper
    from course_utils.exercises import prediction_choice, reveal
    letter = prediction_choice(predict_top_p_temperature, 'predict_top_p_temperature', 'abc')

    def kept(temperature):
        scaled = TemperatureLogitsWarper(temperature)(None, next_logits.float()[None])
        return int(torch.isfinite(TopPLogitsWarper(0.9)(None, scaled)).sum())
    low, high = (kept(0.5), kept(1.5))
    reveal(letter, 'a' if low > high else 'b' if low < high else 'c', "Compare the 'tokens kept' column at T = 0.5 and at T = 1.5.")

