"""Lesson 08's checks (two predictions, three exercises) against wrong and right answers.

Each question's full test file (public and hidden cases, as the grader runs it) is run directly
against answers written as source code: plausible wrong masks, processors and automata, each
caught with the message it must get, and valid answers written differently from the solution.
The lesson's own names (``Choices``, ``advance``, ``generate``) come from its solutions notebook;
the model is the tiny random one with SmolLM2's real tokenizer (the masks are what is checked, and
a mask holds any model to its labels).
"""

import ast
import textwrap
from pathlib import Path

import nbformat
import pytest
from exercise_harness import failure_text, run_check

LESSON = "08_structured_output"
SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / f"{LESSON}.ipynb"
PRELUDE = """
import json
import time

import torch
from transformers import LogitsProcessor, LogitsProcessorList
"""


def _definitions() -> dict[str, str]:
    """The source of every top-level function and class the solutions notebook defines."""
    found = {}
    for cell in nbformat.read(SOLUTIONS, as_version=4).cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.setdefault(node.name, ast.get_source_segment(cell.source, node))
    return found


@pytest.fixture(scope="module")
def env(tiny_model_and_tokenizer) -> dict:
    """The names the checks and the answers use, as the lesson defines them."""
    from course_utils.constrained import token_texts

    model, tokenizer = tiny_model_and_tokenizer
    tokenizer.padding_side = "left"
    namespace: dict = {"model": model, "tokenizer": tokenizer, "DEVICE": "cpu"}
    exec(compile(PRELUDE, "<lesson imports>", "exec", dont_inherit=True), namespace)
    definitions = _definitions()
    for name in ("Choices", "advance", "complete", "generate"):
        exec(compile(definitions[name], f"<{name}>", "exec", dont_inherit=True), namespace)
    namespace.update(TOKEN_TEXTS=token_texts(tokenizer), EOS=tokenizer.eos_token_id)
    return namespace


def solution(name: str) -> str:
    return _definitions()[name]


def with_answer(env: dict, source: str) -> dict:
    namespace = dict(env)
    exec(compile(textwrap.dedent(source), "<answer>", "exec", dont_inherit=True), namespace)
    return namespace


def check(env, question, source):
    return run_check(LESSON, question, with_answer(env, source))


def assert_caught(result, *fragments):
    """The answer lost its point, and the learner reads a message with each fragment."""
    text = failure_text(result)
    assert not result.passed, f"a wrong answer passed {result.name}"
    for fragment in fragments:
        assert fragment in text, f"expected {fragment!r} in the messages:\n{text}"


def assert_passes(result):
    assert result.passed, failure_text(result)


# ------------------------------------------------------------------ the solutions pass
def test_the_solutions_pass(env):
    assert_passes(check(env, "allowed_tokens", solution("allowed_tokens")))
    assert_passes(check(env, "mask_processor", solution("allowed_tokens") + "\n" + solution("MaskProcessor")))
    assert_passes(check(env, "record_automaton", solution("Record")))


@pytest.mark.parametrize("question", ["allowed_tokens", "mask_processor", "record_automaton"])
def test_unanswered_gets_one_message_that_says_what_to_write(env, question):
    stub = {"allowed_tokens": "def allowed_tokens(automaton, state, token_texts, eos_id):\n    ...",
            "mask_processor": "class MaskProcessor(LogitsProcessor):\n    ...",
            "record_automaton": "class Record:\n    ..."}[question]
    result = check(env, question, stub)
    assert not result.passed
    assert "write" in failure_text(result)


# ------------------------------------------------------------------ exercise 1: allowed_tokens
ALLOWED = "def allowed_tokens(automaton, state, token_texts, eos_id):\n"
WRONG_ALLOWED = {
    "never the end token": ALLOWED + """
    return {i for i, text in enumerate(token_texts)
            if text and advance(automaton, state, text) is not None}
""",
    "the end token always": ALLOWED + """
    allowed = {i for i, text in enumerate(token_texts)
               if text and advance(automaton, state, text) is not None}
    return allowed | {eos_id}
""",
    "the end token only where nothing else may follow": ALLOWED + """
    allowed = {i for i, text in enumerate(token_texts)
               if text and advance(automaton, state, text) is not None}
    return allowed or {eos_id}
""",
    "reads from the start state": ALLOWED + """
    allowed = {i for i, text in enumerate(token_texts)
               if text and advance(automaton, automaton.start, text) is not None}
    if automaton.accepts(state):
        allowed.add(eos_id)
    return allowed
""",
    "the first character only": ALLOWED + """
    allowed = {i for i, text in enumerate(token_texts) if text and automaton.step(state, text[0]) is not None}
    if automaton.accepts(state):
        allowed.add(eos_id)
    return allowed
""",
    "empty tokens allowed": ALLOWED + """
    allowed = {i for i, text in enumerate(token_texts)
               if text is not None and advance(automaton, state, text) is not None}
    if automaton.accepts(state):
        allowed.add(eos_id)
    return allowed
""",
    "returns the texts": ALLOWED + """
    allowed = {text for text in token_texts if text and advance(automaton, state, text) is not None}
    return allowed
""",
    "returns a list": ALLOWED + """
    allowed = [i for i, text in enumerate(token_texts)
               if text and advance(automaton, state, text) is not None]
    if automaton.accepts(state):
        allowed.append(eos_id)
    return allowed
""",
}
WRONG_ALLOWED_MESSAGES = {
    "never the end token": "the end token",
    "the end token always": "the end token is allowed only when the state accepts",
    "the end token only where nothing else may follow": "exactly when automaton.accepts(state)",
    "reads from the start state": "read from the state you are given",
    "the first character only": "every character",
    "empty tokens allowed": "None or empty must never be allowed",
    "returns the texts": "return token ids (ints)",
    "returns a list": "return a set of token ids",
}


@pytest.mark.parametrize("name", list(WRONG_ALLOWED))
def test_allowed_tokens_wrong(env, name):
    assert_caught(check(env, "allowed_tokens", WRONG_ALLOWED[name]), WRONG_ALLOWED_MESSAGES[name])


def test_allowed_tokens_valid_alternative(env):
    """Steps by hand, a frozenset, tokens taken from a dict: all fine."""
    assert_passes(check(env, "allowed_tokens", ALLOWED + """
    found = []
    for token_id, text in dict(enumerate(token_texts)).items():
        current = state
        for char in text or "":
            current = automaton.step(current, char)
            if current is None:
                break
        else:
            if text:
                found.append(token_id)
    return frozenset(found + ([eos_id] if automaton.accepts(state) else []))
"""))


# ------------------------------------------------------------------ exercise 2: MaskProcessor
def processor(body: str) -> str:
    return solution("allowed_tokens") + "\n\nclass MaskProcessor(LogitsProcessor):\n" + textwrap.indent(
        textwrap.dedent(body), "    ")


INIT = """
def __init__(self, automaton, token_texts, eos_id):
    self.automaton, self.token_texts, self.eos_id = automaton, token_texts, eos_id
    self.prompt_length = None
    self.masks = {}

def allowed(self, state):
    if state not in self.masks:
        self.masks[state] = sorted(allowed_tokens(self.automaton, state, self.token_texts, self.eos_id))
    return self.masks[state]
"""
WRONG_PROCESSORS = {
    "the prompt read as the answer": INIT + """
def __call__(self, input_ids, scores):
    masked = torch.full_like(scores, float("-inf"))
    for row, ids in enumerate(input_ids.tolist()):
        state = advance(self.automaton, self.automaton.start, "".join(self.token_texts[i] or "" for i in ids))
        allowed = self.allowed(state) if state is not None else [self.eos_id]
        masked[row, allowed] = scores[row, allowed]
    return masked
""",
    "one state for every row": INIT + """
def __call__(self, input_ids, scores):
    if self.prompt_length is None:
        self.prompt_length = input_ids.shape[1]
    ids = input_ids[0, self.prompt_length:].tolist()
    state = advance(self.automaton, self.automaton.start, "".join(self.token_texts[i] or "" for i in ids))
    allowed = self.allowed(state) if state is not None else [self.eos_id]
    masked = torch.full_like(scores, float("-inf"))
    masked[:, allowed] = scores[:, allowed]
    return masked
""",
    "0 instead of -inf": INIT + """
def __call__(self, input_ids, scores):
    if self.prompt_length is None:
        self.prompt_length = input_ids.shape[1]
    masked = torch.zeros_like(scores)
    for row, ids in enumerate(input_ids[:, self.prompt_length:].tolist()):
        state = advance(self.automaton, self.automaton.start, "".join(self.token_texts[i] or "" for i in ids))
        allowed = self.allowed(state) if state is not None else [self.eos_id]
        masked[row, allowed] = scores[row, allowed]
    return masked
""",
    "log-probabilities instead of the scores": INIT + """
def __call__(self, input_ids, scores):
    if self.prompt_length is None:
        self.prompt_length = input_ids.shape[1]
    masked = torch.full_like(scores, float("-inf"))
    for row, ids in enumerate(input_ids[:, self.prompt_length:].tolist()):
        state = advance(self.automaton, self.automaton.start, "".join(self.token_texts[i] or "" for i in ids))
        allowed = self.allowed(state) if state is not None else [self.eos_id]
        masked[row, allowed] = scores[row, allowed]
    return torch.log_softmax(masked, dim=-1)
""",
    "finished rows not handled": INIT + """
def __call__(self, input_ids, scores):
    if self.prompt_length is None:
        self.prompt_length = input_ids.shape[1]
    masked = torch.full_like(scores, float("-inf"))
    for row, ids in enumerate(input_ids[:, self.prompt_length:].tolist()):
        text = "".join(self.token_texts[i] or "" for i in ids if i < len(self.token_texts))
        state = advance(self.automaton, self.automaton.start, text)
        allowed = self.allowed(state) if state is not None else [self.eos_id]
        masked[row, allowed] = scores[row, allowed]
    return masked
""",
    "a scan at every step": """
def __init__(self, automaton, token_texts, eos_id):
    self.automaton, self.token_texts, self.eos_id = automaton, token_texts, eos_id
    self.prompt_length = None

def __call__(self, input_ids, scores):
    if self.prompt_length is None:
        self.prompt_length = input_ids.shape[1]
    masked = torch.full_like(scores, float("-inf"))
    for row, ids in enumerate(input_ids[:, self.prompt_length:].tolist()):
        state = None
        if self.eos_id not in ids:
            text = "".join(self.token_texts[i] or "" for i in ids)
            state = advance(self.automaton, self.automaton.start, text)
        allowed = (sorted(allowed_tokens(self.automaton, state, self.token_texts, self.eos_id))
                   if state is not None else [self.eos_id])
        masked[row, allowed] = scores[row, allowed]
    return masked
""",
}
WRONG_PROCESSOR_MESSAGES = {
    "the prompt read as the answer": "the prompt is not part of the answer",
    "one state for every row": "Each row has its own state",
    "0 instead of -inf": "gets -inf",
    "log-probabilities instead of the scores": "keeps its score unchanged",
    "finished rows not handled": "a row that has produced the end token",  # hidden
    "a scan at every step": "scan the vocabulary once per state",  # hidden
}


@pytest.mark.parametrize("name", list(WRONG_PROCESSORS))
def test_mask_processor_wrong(env, name):
    result = check(env, "mask_processor", processor(WRONG_PROCESSORS[name]))
    assert_caught(result, WRONG_PROCESSOR_MESSAGES[name])


def test_mask_processor_valid_alternative(env):
    """Per-row states advanced by each new token, masks as boolean tensors, scores changed in place."""
    assert_passes(check(env, "mask_processor", processor("""
def __init__(self, automaton, token_texts, eos_id):
    self.automaton, self.token_texts, self.eos_id = automaton, token_texts, eos_id
    self.states = None
    self.cache = {}

def mask(self, state, size):
    if state not in self.cache:
        keep = torch.zeros(size, dtype=torch.bool)
        keep[list(allowed_tokens(self.automaton, state, self.token_texts, self.eos_id))] = True
        self.cache[state] = keep
    return self.cache[state]

def __call__(self, input_ids, scores):
    done = "finished"
    if self.states is None:
        self.states = [self.automaton.start] * input_ids.shape[0]
    else:
        for row, token in enumerate(input_ids[:, -1].tolist()):
            if self.states[row] is done or token == self.eos_id:
                self.states[row] = done
            else:
                self.states[row] = advance(self.automaton, self.states[row], self.token_texts[token] or "")
    for row, state in enumerate(self.states):
        if state is done or state is None:
            keep = torch.zeros(scores.shape[1], dtype=torch.bool)
            keep[self.eos_id] = True
        else:
            keep = self.mask(state, scores.shape[1])
        scores[row].masked_fill_(~keep, float("-inf"))
    return scores
""")))


# ------------------------------------------------------------------ exercise 3: Record
def record(body: str) -> str:
    return "class Record:\n" + textwrap.indent(textwrap.dedent(body), "    ")


RECORD = textwrap.dedent(solution("Record"))
WRONG_RECORDS = {
    "no space after the colons": RECORD.replace('+ ": "', '+ ":"'),
    "empty strings": RECORD.replace("(piece + 1, 0) if at == 2 else None", "(piece + 1, 0)"),
    "leading zeros": RECORD.replace("if at == -1 or at == 9:", "if at == 9:").replace(
        '(piece, -1) if at == 0 and char == "0" else (piece, at + 1)', "(piece, at + 1)"),
    "str.isdigit": RECORD.replace('if char in "0123456789":', "if char.isdigit():"),
    "no digit limit": RECORD.replace("if at == -1 or at == 9:", "if at == -1:"),
    "backslashes": RECORD.replace('char >= " " and char != "\\\\"', 'char >= " "'),
    "control characters": RECORD.replace('char >= " " and char != "\\\\"', 'char != "\\\\"'),
    "complete before the closing brace": RECORD.replace(
        "return state == (len(self.pieces), 0)",
        "return state[0] >= len(self.pieces) - 1 or (state[0] == len(self.pieces) - 2 and state[1] != 0)"),
    "lists as states": RECORD.replace("self.start = (0, 0)", "self.start = [0, 0]").replace(
        "piece, at = state", "piece, at = state[0], state[1]"),
    "keys in any order": record(r"""
def __init__(self, fields):
    self.fields = fields
    self.start = ""

def step(self, state, char):
    import regex
    key = "|".join(regex.escape(json.dumps(k)) for k in self.fields)
    value = r'(?:"[^"\\\x00-\x1f]+"|0|[1-9][0-9]{0,8})'
    pair = "(?:" + key + "): " + value
    pattern = r"\{" + pair + "(?:, " + pair + "){" + str(len(self.fields) - 1) + r"}\}"
    text = state + char
    return text if regex.fullmatch(pattern, text, partial=True) else None

def accepts(self, state):
    return state.endswith("}")
"""),
}
WRONG_RECORD_MESSAGES = {
    "no space after the colons": "refused the character ' ' at position 8",
    "empty strings": "at least one character",
    "leading zeros": "does not start with 0",
    "str.isdigit": "ASCII 0-9 only",  # hidden
    "no digit limit": "at most 9 digits",  # hidden
    "backslashes": "no backslash",  # hidden
    "control characters": "no control character",  # hidden
    "complete before the closing brace": "not complete before its closing }",
    "lists as states": "hashable",
    "keys in any order": "the keys come in the order of fields",
}


@pytest.mark.parametrize("name", list(WRONG_RECORDS))
def test_record_wrong(env, name):
    assert WRONG_RECORDS[name] != RECORD, f"the wrong answer {name!r} is the solution: its edit did not apply"
    assert_caught(check(env, "record_automaton", WRONG_RECORDS[name]), WRONG_RECORD_MESSAGES[name])


def test_record_valid_alternative(env):
    """A regular expression of the whole record, read by partial matching: states are the text so far."""
    assert_passes(check(env, "record_automaton", record(r"""
def __init__(self, fields):
    import regex
    parts = []
    for key, kind in fields.items():
        value = r'"[^"\\\x00-\x1f]+"' if kind == "string" else "(?:0|[1-9][0-9]{0,8})"
        parts.append(regex.escape(json.dumps(key) + ": ") + value)
    self.pattern = regex.compile(r"\{" + ", ".join(parts) + r"\}")
    self.start = ""

def step(self, state, char):
    return state + char if self.pattern.fullmatch(state + char, partial=True) else None

def accepts(self, state):
    return self.pattern.fullmatch(state) is not None
""")))
