"""Lesson 02's checks (three predictions, four exercises) against wrong and right answers.

Each question's full test file (public and hidden cases, as the grader runs it) is run directly
against answers written as source code: wrong but plausible answers, each caught with the message
the learner must read, and valid answers written differently from the solution. The checks use
fixed logits, the course's tiny random model (exercise 3 builds its own pipeline on it) and, as
``model`` for exercise 4 and the greedy prediction, a tiny random model whose greedy text varies
(weights drawn wider than the course's tiny model, whose greedy text is one repeated token), so
that stop strings can be picked from it. Seconds each.
"""

import ast
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from exercise_harness import failure_text, run_check, timeouts_scaled

LESSON = "02_generation_parameters"
SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / f"{LESSON}.ipynb"

# The imports of the lesson's cells, which every answer may use.
PRELUDE = """
import copy, re, threading, time
import torch
from transformers import (GenerationConfig, StopStringCriteria, StoppingCriteriaList,
                          TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, pipeline,
                          set_seed)
"""


def solution(name: str) -> str:
    """The solutions notebook's cell that defines ``name``."""
    nb = nbformat.read(SOLUTIONS, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        defined = set()
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if name in defined:
            return cell.source
    raise AssertionError(f"no cell of {SOLUTIONS.name} defines {name}")


@pytest.fixture(scope="module")
def env() -> dict:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from course_utils.models import tiny_model_path

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path())
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         tie_word_embeddings=True, initializer_range=0.2,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    namespace: dict = {"model": model, "tokenizer": tokenizer,
                       "next_logits": torch.randn(2000, generator=torch.Generator().manual_seed(0)) * 3}
    exec(compile(PRELUDE, "<lesson imports>", "exec", dont_inherit=True), namespace)
    return namespace


def check(env, question, source):
    namespace = dict(env)
    exec(compile(textwrap.dedent(source), "<answer>", "exec", dont_inherit=True), namespace)
    return run_check(LESSON, question, namespace)


def assert_caught(result, *fragments):
    """The answer lost its point, and the learner reads a message with each fragment."""
    text = failure_text(result)
    assert not result.passed, f"a wrong answer passed {result.name}"
    for fragment in fragments:
        assert fragment in text, f"expected {fragment!r} in the messages:\n{text}"


def assert_passes(result):
    assert result.passed, failure_text(result)


# ------------------------------------------------------------------ the solutions pass
@pytest.mark.parametrize("question, name", [
    ("predict_low_temperature", "predict_low_temperature"),
    ("predict_top_p_temperature", "predict_top_p_temperature"),
    ("predict_greedy_samples", "predict_greedy_samples"),
    ("sampling_distribution", "next_token_distribution"), ("top_p_by_hand", "top_p_filter"),
    ("reproducible_sampling", "sample_with_seed"), ("stop_strings", "reply_until"),
])
def test_the_solution_passes(env, question, name):
    assert_passes(check(env, question, solution(name)))


@pytest.mark.parametrize("question", [
    "predict_low_temperature", "predict_top_p_temperature", "predict_greedy_samples",
    "sampling_distribution", "top_p_by_hand", "reproducible_sampling", "stop_strings"])
def test_an_unanswered_question_fails_politely(env, question):
    """The student notebook's `...` answers: every case fails with a message, none crashes."""
    name = {"sampling_distribution": "def next_token_distribution(logits, temperature, top_k=0):",
            "top_p_by_hand": "def top_p_filter(logits, top_p):",
            "reproducible_sampling": "def sample_with_seed(generator, prompt, seed):",
            "stop_strings": "def reply_until(model, tokenizer, question, stop):"}.get(question)
    source = f"{name}\n    ..." if name else f"{question} = ..."
    result = check(env, question, source)
    assert not result.passed and all(case.message for case in result.failures())
    assert result.score == 0


# (the predictions: tests/test_predictions.py, the same for every lesson)


# ------------------------------------------------------------------ exercise 1: the distribution
DISTRIBUTION_WRONG = {
    "multiplies by the temperature": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
            return (logits * temperature).softmax(-1)
        """, "divide the logits by the temperature"),
    "the old exercise: 0 raises": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature <= 0:
                raise ValueError("temperature must be strictly positive")
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "temperature 0 raised ValueError"),
    "0 divides by zero (NaN)": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            return (logits / temperature).softmax(-1)
        """, "NaN or inf"),
    "negative allowed": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / abs(temperature)
            if top_k > 0:
                kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "negative temperature should raise ValueError"),
    "integer one-hot": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1])
            return (logits / temperature).softmax(-1)
        """, "one_hot gives integers"),
    "top_k ignored": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            return (logits / temperature).softmax(-1)
        """, "keep only the k most likely tokens"),
    "top_k after the softmax, not renormalised": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            probs = (logits / temperature).softmax(-1)
            if top_k > 0:
                kth = probs.topk(top_k, dim=-1).values[..., -1:]
                probs = probs.masked_fill(probs < kth, 0.0)
            return probs
        """, "the kept ones add up to 1"),
    "top_k keeps one too many": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(top_k + 1, dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "keep only the k most likely tokens"),
    "changes the caller's logits": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            logits /= temperature
            if top_k > 0:
                kth = logits.topk(top_k, dim=-1).values[..., -1:]
                logits.masked_fill_(logits < kth, float("-inf"))
            return logits.softmax(-1)
        """, "do not change the logits you were given"),
    "softmax over the first dimension (batches break)": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / temperature
            if top_k > 0:
                kth = scores.flatten().topk(min(top_k, scores.numel())).values[-1]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(0)
        """, "each row is a distribution of its own"),
    "exp()/sum() overflows at small temperatures": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            weights = torch.exp(scores)
            return weights / weights.sum(-1, keepdim=True)
        """, "use torch.softmax"),
    "top_k above the vocabulary crashes": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(top_k, dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "larger than the vocabulary keeps every token"),
    "uses transformers' warpers": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = TemperatureLogitsWarper(float(temperature))(None, logits)
            if top_k > 0:
                scores = TopKLogitsWarper(top_k)(None, scores)
            return scores.softmax(-1)
        """, "not to call transformers' warpers"),
    "greedy only for the first row of a batch": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("negative")
            if temperature == 0:
                probs = torch.zeros_like(logits)
                probs.view(-1)[int(logits.argmax())] = 1.0
                return probs
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "temperature 0 is greedy for every row"),
    "negative top_k accepted": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "a negative top_k should raise ValueError"),
    # false-pass kind "only one row ever tested": one k-th best score for the whole batch keeps more
    # than k tokens in the other rows (already caught by the hidden batch case)
    "one top-k threshold for the whole batch": ("""
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("negative")
            if temperature == 0:
                return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
            scores = logits / temperature
            if top_k > 0:
                kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[..., -1:].min()
                scores = scores.masked_fill(scores < kth, float("-inf"))
            return scores.softmax(-1)
        """, "each row is a distribution of its own"),
}


@pytest.mark.parametrize("case", list(DISTRIBUTION_WRONG))
def test_distribution_wrong(env, case):
    source, fragment = DISTRIBUTION_WRONG[case]
    assert_caught(check(env, "sampling_distribution", source), fragment)


DISTRIBUTION_RIGHT = {
    "a tiny temperature for 0, functional softmax, sort-based top-k": """
        import torch.nn.functional as F

        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0 or top_k < 0:
                raise ValueError("temperature and top_k must not be negative")
            scores = logits / max(temperature, 1e-12)
            if top_k:
                ranked = scores.sort(dim=-1, descending=True).values
                threshold = ranked[..., min(top_k, scores.shape[-1]) - 1:min(top_k, scores.shape[-1])]
                scores = torch.where(scores >= threshold, scores, torch.full_like(scores, -float("inf")))
            return F.softmax(scores, dim=-1)
        """,
    "indices of the top k, scattered": """
        def next_token_distribution(logits, temperature, top_k=0):
            if temperature < 0:
                raise ValueError("temperature < 0")
            if top_k < 0:
                raise ValueError("top_k < 0")
            if temperature == 0:
                top_k, temperature = 1, 1.0
            scores = logits / temperature
            if top_k > 0:
                k = min(top_k, scores.shape[-1])
                top = scores.topk(k, -1).indices
                keep = torch.zeros_like(scores, dtype=torch.bool).scatter(-1, top, True)
                scores = scores.masked_fill(~keep, float("-inf"))
            return torch.softmax(scores, dim=-1)
        """,
}


@pytest.mark.parametrize("case", list(DISTRIBUTION_RIGHT))
def test_distribution_valid_alternatives(env, case):
    assert_passes(check(env, "sampling_distribution", DISTRIBUTION_RIGHT[case]))


# ------------------------------------------------------------------ exercise 2: top-p
TOP_P_HEAD = """
    def top_p_filter(logits, top_p):
        if not 0 < top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
"""
TOP_P_WRONG = {
    "drops the token that crosses top_p": (TOP_P_HEAD + """
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        remove = cumulative > top_p
        filtered = logits.clone()
        filtered[order[remove]] = float("-inf")
        return filtered
        """, "the token that reaches it included"),
    "returns the sorted logits": (TOP_P_HEAD + """
        sorted_logits, _ = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) - probs >= top_p
        return sorted_logits.masked_fill(remove, float("-inf"))
        """, "in its original place"),
    "returns probabilities": (TOP_P_HEAD + """
        probs = logits.softmax(-1)
        sorted_probs, order = torch.sort(probs, descending=True)
        remove = sorted_probs.cumsum(-1) - sorted_probs >= top_p
        out = probs.clone()
        out[order[remove]] = float("-inf")
        return out
        """, "keep their original logits"),
    "removed tokens set to 0, not -inf": (TOP_P_HEAD + """
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) - probs >= top_p
        filtered = logits.clone()
        filtered[order[remove]] = 0.0
        return filtered
        """, "you keep 400 tokens"),
    "changes the caller's logits": (TOP_P_HEAD + """
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) - probs >= top_p
        logits[order[remove]] = float("-inf")
        return logits
        """, "do not change the logits you were given"),
    "no range check": ("""
        def top_p_filter(logits, top_p):
            sorted_logits, order = torch.sort(logits, descending=True)
            probs = sorted_logits.softmax(-1)
            remove = probs.cumsum(-1) - probs >= top_p
            remove[0] = False
            filtered = logits.clone()
            filtered[order[remove]] = float("-inf")
            return filtered
        """, "top_p=0 should raise ValueError"),
    "can remove every token": (TOP_P_HEAD + """
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) >= top_p + probs * 0  # no token kept when the first already covers p
        filtered = logits.clone()
        filtered[order[remove]] = float("-inf")
        return filtered
        """, "the nucleus is never empty"),
    "the tensor itself at top_p=1": (TOP_P_HEAD + """
        if top_p == 1:
            return logits
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) - probs >= top_p
        filtered = logits.clone()
        filtered[order[remove]] = float("-inf")
        return filtered
        """, "return a copy"),
    "TGI's rule: top_p=1 refused": ("""
        def top_p_filter(logits, top_p):
            if not 0 < top_p < 1:
                raise ValueError("top_p must be > 0.0 and < 1.0")
            sorted_logits, order = torch.sort(logits, descending=True)
            probs = sorted_logits.softmax(-1)
            remove = probs.cumsum(-1) - probs >= top_p
            filtered = logits.clone()
            filtered[order[remove]] = float("-inf")
            return filtered
        """, "top_p=1 is allowed"),
    "calls TopPLogitsWarper": (TOP_P_HEAD + """
        return TopPLogitsWarper(top_p)(None, logits[None])[0]
        """, "not to call TopPLogitsWarper"),
    "assumes the first token is the most likely": (TOP_P_HEAD + """
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) - probs >= top_p
        remove[0] = False
        filtered = logits.clone()
        filtered[order[remove]] = float("-inf")
        filtered[0] = logits[0]  # "always keep the first token"
        return filtered
        """, "not always the first one"),
    "float rounding at top_p=1 drops the tail": (TOP_P_HEAD + """
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        remove = probs.cumsum(-1) - probs >= top_p - 1e-6
        remove[0] = False
        filtered = logits.clone()
        filtered[order[remove]] = float("-inf")
        return filtered
        """, "top_p=1 keeps every token"),
}


@pytest.mark.parametrize("case", list(TOP_P_WRONG))
def test_top_p_wrong(env, case):
    source, fragment = TOP_P_WRONG[case]
    assert_caught(check(env, "top_p_by_hand", source), fragment)


TOP_P_RIGHT = {
    "ascending order, as transformers does": TOP_P_HEAD + """
        ascending, order = torch.sort(logits)
        remove = ascending.softmax(-1).cumsum(-1) <= 1 - top_p
        remove[-1] = False
        return logits.masked_fill(remove.scatter(0, order, remove), float("-inf"))
        """,
    "a loop over the ranked tokens": """
        def top_p_filter(logits, top_p):
            if top_p <= 0 or top_p > 1:
                raise ValueError(f"top_p must be in (0, 1], got {top_p}")
            probs = torch.softmax(logits, dim=-1)
            keep = torch.zeros_like(logits, dtype=torch.bool)
            total = 0.0
            for index in torch.argsort(probs, descending=True).tolist():
                keep[index] = True
                total += float(probs[index])
                if total >= top_p:
                    break
            return torch.where(keep, logits, torch.tensor(float("-inf"), dtype=logits.dtype))
        """,
}


@pytest.mark.parametrize("case", list(TOP_P_RIGHT))
def test_top_p_valid_alternatives(env, case):
    assert_passes(check(env, "top_p_by_hand", TOP_P_RIGHT[case]))


# ------------------------------------------------------------------ exercise 3: seeded samples
def seeded(call: str, result: str = 'out[0]["generated_text"]') -> str:
    """An answer that seeds correctly (fork_rng, manual_seed), with one ``call`` and ``result``."""
    return f"""
        def sample_with_seed(generator, prompt, seed):
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                out = {call}
            return {result}
        """


SEED_WRONG = {
    "the section 7 way: set_seed on the global generator": ("""
        def sample_with_seed(generator, prompt, seed):
            set_seed(seed)
            return generator(prompt, do_sample=True, max_new_tokens=20,
                             return_full_text=False)[0]["generated_text"]
        """, "changed PyTorch's global random state"),
    "seeds before fork_rng": ("""
        def sample_with_seed(generator, prompt, seed):
            torch.manual_seed(seed)
            with torch.random.fork_rng():
                out = generator(prompt, do_sample=True, max_new_tokens=20, return_full_text=False)
            return out[0]["generated_text"]
        """, "changed PyTorch's global random state"),
    "fork_rng without a seed": ("""
        def sample_with_seed(generator, prompt, seed):
            with torch.random.fork_rng():
                out = generator(prompt, do_sample=True, max_new_tokens=20, return_full_text=False)
            return out[0]["generated_text"]
        """, "seed 3 gave two different texts"),
    "seeds once, outside the function": ("""
        set_seed(0)

        def sample_with_seed(generator, prompt, seed):
            return generator(prompt, do_sample=True, max_new_tokens=20,
                             return_full_text=False)[0]["generated_text"]
        """, "changed PyTorch's global random state"),
    "seeds Python's random only": ("""
        import random

        def sample_with_seed(generator, prompt, seed):
            random.seed(seed)
            return generator(prompt, do_sample=True, max_new_tokens=20,
                             return_full_text=False)[0]["generated_text"]
        """, "changed PyTorch's global random state"),
    "greedy (no sampling)": (seeded(
        'generator(prompt, do_sample=False, max_new_tokens=20, return_full_text=False)'),
        "does it sample"),
    "relies on the pipeline's defaults": (seeded(
        'generator(prompt, max_new_tokens=20, return_full_text=False)'),
        "decodes greedily unless told to sample"),
    "near-greedy temperature": (seeded(
        'generator(prompt, do_sample=True, temperature=1e-4, max_new_tokens=20, return_full_text=False)'),
        "does it sample"),
    "returns the prompt too": (seeded('generator(prompt, do_sample=True, max_new_tokens=20)'),
                               "return only the new text"),
    "returns the pipeline's list": (seeded(
        'generator(prompt, do_sample=True, max_new_tokens=20, return_full_text=False)', "out"),
        "non-empty string"),
    "max_length=20 counts the prompt": (seeded(
        'generator(prompt, do_sample=True, max_length=20, return_full_text=False)'),
        "max_length counts the prompt too"),
    "no length limit (the pipeline's 256)": (seeded(
        'generator(prompt, do_sample=True, return_full_text=False)'),
        "stop at 20 with max_new_tokens=20"),
    "10 tokens is 'at most 20'": (seeded(
        'generator(prompt, do_sample=True, max_new_tokens=10, return_full_text=False)'),
        "up to 20 means 20"),
    "a max_length fitted to the check's prompt": (seeded(
        'generator(prompt, do_sample=True, max_length=24, return_full_text=False)'),
        "max_length"),
    # false-pass kind "a tiny model that never emits EOS": "up to 20" forced to exactly 20
    "exactly 20 new tokens (min_new_tokens)": (seeded(
        'generator(prompt, do_sample=True, max_new_tokens=20, min_new_tokens=20, return_full_text=False)'),
        "up to 20 means the model may end earlier"),
    # the same kind: the end-of-sequence token reaches the text when the model ends early
    "generate() decoded without skip_special_tokens": ("""
        def sample_with_seed(generator, prompt, seed):
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                inputs = generator.tokenizer(prompt, return_tensors="pt").to(generator.model.device)
                out = generator.model.generate(**inputs, do_sample=True, max_new_tokens=20)
            return generator.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:])
        """, "your text holds the end-of-sequence token"),
    "greedy on a prompt that includes the seed": ("""
        def sample_with_seed(generator, prompt, seed):
            return generator(f"{prompt} {seed}", do_sample=False, max_new_tokens=20,
                             return_full_text=False)[0]["generated_text"]
        """, "send the prompt as it is"),
}


@pytest.mark.parametrize("case", list(SEED_WRONG))
def test_seed_wrong(env, case):
    source, fragment = SEED_WRONG[case]
    assert_caught(check(env, "reproducible_sampling", source), fragment)


SEED_RIGHT = {
    "state saved and restored, a GenerationConfig, the prompt cut off": """
        def sample_with_seed(generator, prompt, seed):
            state = torch.get_rng_state()
            try:
                set_seed(seed)
                config = GenerationConfig(do_sample=True, max_new_tokens=20, top_k=0, temperature=1.0)
                out = generator(prompt, generation_config=config)
            finally:
                torch.set_rng_state(state)
            return out[0]["generated_text"][len(prompt):]
        """,
    "the pipeline's model and tokenizer directly": """
        def sample_with_seed(generator, prompt, seed):
            with torch.random.fork_rng():
                set_seed(seed)
                inputs = generator.tokenizer(prompt, return_tensors="pt").to(generator.model.device)
                out = generator.model.generate(**inputs, do_sample=True, max_new_tokens=20,
                                               pad_token_id=generator.tokenizer.pad_token_id)
            new = out[0, inputs["input_ids"].shape[1]:]
            return generator.tokenizer.decode(new, skip_special_tokens=True).strip()
        """,
}


@pytest.mark.parametrize("case", list(SEED_RIGHT))
def test_seed_valid_alternatives(env, case):
    assert_passes(check(env, "reproducible_sampling", SEED_RIGHT[case]))


def test_seed_deadlock_is_reported_in_time(env):
    """An answer that waits for itself (a lock taken twice) fails within the check's 15 s."""
    start = time.monotonic()
    with timeouts_scaled(0.2) as asked:  # waits 3 s of the learner's 15
        result = check(env, "reproducible_sampling", """
            def sample_with_seed(generator, prompt, seed):
                lock = threading.Lock()
                with lock:
                    with lock:  # never acquired: the function waits forever
                        return generator(prompt, do_sample=True, max_new_tokens=20)
            """)
    assert_caught(result, "no answer within 15 s", "wait for a thread or a lock")
    assert asked and set(asked) == {15}, asked
    # the learner's limit is in `asked`; the wall clock only catches a check that never gives up
    assert time.monotonic() - start < 120


# ------------------------------------------------------------------ exercise 4: stop strings
STOP_HEAD = """
    def reply_until(model, tokenizer, question, stop):
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
            add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
        out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                             tokenizer=tokenizer)
        new = out[0, inputs["input_ids"].shape[1]:]
        reply = tokenizer.decode(new, skip_special_tokens=True)
"""
STOP_WRONG = {
    "keeps the stop string (transformers' default)": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        """, "still contains"),
    "cuts afterwards, generation never stops": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "instead of cutting a longer text afterwards"),
    "only the first stop string of the list": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop[:1],
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            return reply.split(stop[0])[0].strip()
        """, "that comes first in the text"),
    "removes the last len(stop) characters": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            for s in stop:
                if s in reply:
                    return reply[:-len(s)].strip()
            return reply[:-1].strip()
        """, "when no stop string occurs, return the whole reply"),
    "None when no stop string occurs": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else None
        """, "also when no stop string occurs"),
    "the old 60-token budget": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=60, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "up to 30 new tokens"),
    "relies on the model's defaults (no do_sample)": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, max_new_tokens=30, stop_strings=stop, tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "pass do_sample=False"),
    "inputs left on the CPU": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, ".to(model.device)"),
    "min() of find() counts a missing stop string as -1": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            return reply[:min(reply.find(s) for s in stop)].strip()
        """, "when no stop string occurs, return the whole reply"),
    "moves the model to the CPU": ("""
        def reply_until(model, tokenizer, question, stop):
            model = model.to("cpu")
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "never move the model itself"),
    "edits model.generation_config": ("""
        def reply_until(model, tokenizer, question, stop):
            model.generation_config.stop_strings = list(stop)
            model.generation_config.max_new_tokens = 30
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "changed model.generation_config"),
    "the prompt without the chat template": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer(question, return_tensors="pt").to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "apply the chat template"),
    # false-pass kind "stop strings always ending on a token boundary": dropping the last token
    # equals cutting at the string only when the stop string is exactly that token
    "drops the last token": (STOP_HEAD + """
        if any(s in reply for s in stop):
            reply = tokenizer.decode(new[:-1], skip_special_tokens=True)
        return reply.strip()
        """, "you cut too much, at a token boundary"),
    # the same kind: len(stop) characters off the end leaves the overshoot of the last token
    "cuts len(stop) characters off the end": (STOP_HEAD + """
        for s in stop:
            if s in reply:
                return reply[:len(reply) - len(s)].strip()
        return reply.strip()
        """, "not a fixed number of characters from the end"),
    # the same kind: the earliest-in-text rule against first-in-list, when one token completes both
    "the first stop string of the list that occurs": (STOP_HEAD + """
        for s in stop:
            if s in reply:
                return reply[:reply.find(s)].strip()
        return reply.strip()
        """, "you cut at the first stop string of the list"),
    # false-pass kind "a tiny model that never emits EOS": a reply that ends before any stop string
    "decoded without skip_special_tokens": ("""
        def reply_until(model, tokenizer, question, stop):
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            out = model.generate(**inputs, do_sample=False, max_new_tokens=30, stop_strings=stop,
                                 tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:])
            found = [reply.find(s) for s in stop if s in reply]
            return reply[:min(found)].strip() if found else reply.strip()
        """, "your reply holds the end-of-sequence token"),
}


@pytest.mark.parametrize("case", list(STOP_WRONG))
def test_stop_wrong(env, case):
    source, fragment = STOP_WRONG[case]
    assert_caught(check(env, "stop_strings", source), fragment)


STOP_RIGHT = {
    "a GenerationConfig with stop_strings, and re.split": """
        def reply_until(model, tokenizer, question, stop):
            text = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                                 tokenize=False, add_generation_prompt=True)
            inputs = tokenizer(text, return_tensors="pt").to(model.device)
            config = GenerationConfig(do_sample=False, max_new_tokens=30, stop_strings=stop,
                                      pad_token_id=tokenizer.pad_token_id)
            out = model.generate(**inputs, generation_config=config, tokenizer=tokenizer)
            reply = tokenizer.decode(out[0][inputs["input_ids"].shape[-1]:], skip_special_tokens=True)
            return re.split("|".join(map(re.escape, stop)), reply)[0].strip()
        """,
    "a StopStringCriteria": """
        def reply_until(model, tokenizer, question, stop):
            ids = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                                add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)["input_ids"].to(model.device)
            criteria = StoppingCriteriaList([StopStringCriteria(tokenizer, stop)])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=30, stopping_criteria=criteria)
            reply = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
            cut = min((reply.find(s) for s in stop if s in reply), default=len(reply))
            return reply[:cut].strip()
        """,
    "a copy of the model's generation_config": """
        def reply_until(model, tokenizer, question, stop):
            config = copy.deepcopy(model.generation_config)
            config.stop_strings, config.max_new_tokens, config.do_sample = list(stop), 30, False
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                add_generation_prompt=True, return_tensors="pt", return_dict=True).to(model.device)
            with torch.inference_mode():
                out = model.generate(**inputs, generation_config=config, tokenizer=tokenizer)
            reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            for s in sorted(stop, key=lambda s: reply.find(s) if s in reply else len(reply)):
                return reply.split(s)[0].strip() if s in reply else reply.strip()
        """,    "a pipeline's stop_sequence= (section 8)": """
        def reply_until(model, tokenizer, question, stop):
            pipe = pipeline("text-generation", model=model, tokenizer=copy.deepcopy(tokenizer),
                            device=model.device)
            out = pipe([{"role": "user", "content": question}], max_new_tokens=30, do_sample=False,
                       stop_sequence=list(stop), return_full_text=False)
            reply = out[0]["generated_text"]
            cut = min((reply.find(s) for s in stop if s in reply), default=len(reply))
            return reply[:cut].strip()
        """,
}


@pytest.mark.parametrize("case", list(STOP_RIGHT))
def test_stop_valid_alternatives(env, case):
    assert_passes(check(env, "stop_strings", STOP_RIGHT[case]))


def test_stop_checks_leave_the_model_as_they_found_it(env):
    """The spies and the meta copy are gone after the checks, whatever the answer did."""
    model = env["model"]
    before = model.generation_config.to_diff_dict()
    check(env, "stop_strings", STOP_WRONG["edits model.generation_config"][0])
    check(env, "stop_strings", solution("reply_until"))
    assert "generate" not in vars(model)
    assert model.generation_config.to_diff_dict() == before
    assert model.device.type == "cpu"
