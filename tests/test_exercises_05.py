"""Lesson 05's checks (three predictions, four exercises) against wrong and right answers.

Each question's full test file (public and hidden cases, as the grader runs it) is run directly
against answers written as source code: wrong but plausible answers, each caught with the message
the learner must read, and valid answers written differently from the solution. The names an
answer may use (``PromptTemplate``, ``HuggingFacePipeline``, ``pipeline`` ...) come from the
lesson's own import cell. The checks use recording fakes and the tiny random model: seconds each.
"""

import ast
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from exercise_harness import failure_text, run_check, timeouts_scaled

LESSON = "05_langchain"
SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / f"{LESSON}.ipynb"

# The imports of the lesson's section 1 cell, which every later cell (and every answer) may use.
PRELUDE = """
import inspect, time
import pandas as pd
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
from transformers import AutoTokenizer, pipeline
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
    namespace: dict = {}
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
    ("predict_echo", "predict_echo"), ("predict_stop", "predict_stop"),
    ("predict_template", "predict_template"), ("chat_format_chain", "chat_format_chain"),
    ("no_echo", "no_echo"), ("answer_all", "answer_all"), ("streaming_stop", "cut_at_stop"),
])
def test_the_solution_passes(env, question, name):
    assert_passes(check(env, question, solution(name)))


@pytest.mark.parametrize("question, stub", [
    ("predict_echo", "predict_echo = ..."),
    ("predict_stop", "predict_stop = ..."),
    ("predict_template", "predict_template = ..."),
    ("chat_format_chain", "def chat_format_chain(llm, tokenizer, system=None):\n    ..."),
    ("no_echo", "def no_echo(pipe, max_new_tokens):\n    ..."),
    ("answer_all", "def answer_all(chain, questions):\n    ..."),
    ("streaming_stop", "def cut_at_stop(stops):\n    ..."),
])
def test_an_unanswered_cell_is_told_to_answer(env, question, stub):
    assert_caught(check(env, question, stub), "first")


def test_a_missing_answer_is_named(env):
    result = run_check(LESSON, "no_echo", dict(env))
    assert_caught(result, "`no_echo` is not defined")


# (the predictions: tests/test_predictions.py, the same for every lesson)


# ------------------------------------------------------------------ exercise 1: chat_format_chain
def test_chat_format_by_hand_is_caught(env):
    # passes with SmolLM2's tokenizer; the hidden case's other template catches it
    answer = '''
    def chat_format_chain(llm, tokenizer, system=None):
        head = ("<|im_start|>system\\n" + system + "<|im_end|>\\n") if system is not None else \\
            "<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, " \\
            "trained by Hugging Face<|im_end|>\\n"
        def to_prompt(d):
            return head + "<|im_start|>user\\n" + d["question"] + "<|im_end|>\\n<|im_start|>assistant\\n"
        return RunnableLambda(to_prompt) | llm
    '''
    assert_caught(check(env, "chat_format_chain", answer), "use the tokenizer's own chat template")


@pytest.mark.parametrize("answer, message", [
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        return ChatPromptTemplate.from_messages([("system", system), ("user", "{question}")]) | llm
    ''', "LangChain's plain rendering of the messages"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def to_prompt(d):
            messages = [{"role": "system", "content": system}, {"role": "user", "content": d["question"]}]
            return tokenizer.apply_chat_template(messages, tokenize=False)
        return RunnableLambda(to_prompt) | llm
    ''', "add_generation_prompt=True"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def to_prompt(d):
            return tokenizer.apply_chat_template([{"role": "user", "content": d["question"]}],
                                                 tokenize=False, add_generation_prompt=True)
        return RunnableLambda(to_prompt) | llm
    ''', "put `system` in a system message"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def to_prompt(d):
            messages = [{"role": "system", "content": system}, {"role": "user", "content": d["question"]}]
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return RunnableLambda(to_prompt) | llm
    ''', "with system=None send only the user's message"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        chat = ChatHuggingFace(llm=llm, tokenizer=tokenizer)
        return ChatPromptTemplate.from_messages([("system", system), ("user", "{question}")]) | chat
    ''', "ChatHuggingFace is what this exercise replaces"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def to_prompt(d):
            messages = [{"role": "system", "content": system}] if system is not None else []
            messages.append({"role": "user", "content": d["question"]})
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        return RunnableLambda(to_prompt) | llm
    ''', "it needs the prompt as text"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def to_prompt(d):
            messages = [{"role": "system", "content": system}] if system is not None else []
            messages.append({"role": "user", "content": d["question"]})
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return RunnableLambda(to_prompt) | llm | StrOutputParser() | RunnableLambda(str.strip)
    ''', "return the LLM's text as it comes"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def to_prompt(d):
            messages = [{"role": "user", "content": d["question"]}, {"role": "system", "content": system}]
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return RunnableLambda(to_prompt) | llm
    ''', "send your system message as the first message"),
    ('''
    def chat_format_chain(llm, tokenizer, system=None):
        def answer(d):
            messages = [{"role": "system", "content": system}] if system is not None else []
            messages.append({"role": "user", "content": d["question"]})
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return llm.invoke(text)
        return answer
    ''', "return the chain itself"),
])
def test_chat_format_chain_wrong(env, answer, message):
    assert_caught(check(env, "chat_format_chain", answer), message)


@pytest.mark.parametrize("answer", [
    # the chat template filled in once with a placeholder, then a PromptTemplate: valid only with the
    # system text's braces escaped (KIND_PLACEHOLDER_TEMPLATE below forgets it)
    '''
    def chat_format_chain(llm, tokenizer, system=None):
        escaped = None if system is None else system.replace("{", "{{").replace("}", "}}")
        messages = [{"role": "system", "content": escaped}] if system is not None else []
        messages.append({"role": "user", "content": "{question}"})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return PromptTemplate.from_template(text) | llm
    ''',
    # a Runnable written as a class
    '''
    from langchain_core.runnables import Runnable

    class ToChatFormat(Runnable):
        def __init__(self, tokenizer, system):
            self.tokenizer, self.system = tokenizer, system

        def invoke(self, value, config=None, **kwargs):
            messages = [] if self.system is None else [{"role": "system", "content": self.system}]
            return self.tokenizer.apply_chat_template(
                messages + [{"role": "user", "content": value["question"]}],
                tokenize=False, add_generation_prompt=True)

    def chat_format_chain(llm, tokenizer, system=None):
        return ToChatFormat(tokenizer, system) | llm | StrOutputParser()
    ''',
])
def test_chat_format_chain_valid(env, answer):
    assert_passes(check(env, "chat_format_chain", answer))


# ------------------------------------------------------------------ exercise 2: no_echo
@pytest.mark.parametrize("answer, message", [
    ('''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe, pipeline_kwargs={
            "return_full_text": False, "do_sample": False, "max_new_tokens": max_new_tokens})
    ''', "the prompt is echoed"),
    ('''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe).bind(return_full_text=False)
    ''', "the prompt is echoed"),
    ('''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe).bind(pipeline_kwargs={"return_full_text": False})
    ''', "generate greedily"),
    ('''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe).bind(
            pipeline_kwargs={"return_full_text": False, "do_sample": False, "num_return_sequences": 1})
    ''', "at most max_new_tokens"),
    ('''
    def no_echo(pipe, max_new_tokens):
        pipe._generate_kwargs.update(do_sample=False, max_new_tokens=max_new_tokens, num_return_sequences=1)
        return HuggingFacePipeline(pipeline=pipe).bind(pipeline_kwargs={"return_full_text": False})
    ''', "pipe's settings changed"),
    ('''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline.from_model_id(
            pipe.model.name_or_path, task="text-generation",
            pipeline_kwargs={"return_full_text": False, "do_sample": False, "max_new_tokens": max_new_tokens})
    ''', "use pipe's own model"),
    ('''
    import copy

    def no_echo(pipe, max_new_tokens):
        quiet = copy.deepcopy(pipe)
        quiet._postprocess_params["return_full_text"] = False
        return HuggingFacePipeline(pipeline=quiet).bind(
            pipeline_kwargs={"do_sample": False, "max_new_tokens": max_new_tokens})
    ''', "use pipe's own model"),
    ('''
    def no_echo(pipe, max_new_tokens):
        quiet = pipeline("text-generation", model=pipe.model, device=pipe.device,
                         tokenizer=AutoTokenizer.from_pretrained(pipe.model.name_or_path),
                         return_full_text=False, do_sample=False, max_new_tokens=max_new_tokens)
        return HuggingFacePipeline(pipeline=quiet)
    ''', "use pipe's own tokenizer"),
    ('''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe).bind(pipeline_kwargs={
            "return_full_text": False, "do_sample": False, "max_new_tokens": max_new_tokens - 1,
            "num_return_sequences": 1})
    ''', "your answer stops before"),
    ('''
    def no_echo(pipe, max_new_tokens):
        quiet = pipeline("text-generation", model=pipe.model, tokenizer=pipe.tokenizer,
                         return_full_text=False, do_sample=False, max_new_tokens=max_new_tokens)
        return HuggingFacePipeline(pipeline=quiet)
    ''', "pass device=pipe.device"),
    ('''
    def no_echo(pipe, max_new_tokens):
        quiet = pipeline("text-generation", model=pipe.model, tokenizer=pipe.tokenizer, device="cpu",
                         return_full_text=False, do_sample=False, max_new_tokens=max_new_tokens)
        return HuggingFacePipeline(pipeline=quiet)
    ''', "moved pipe's model to another device"),
    ('''
    def no_echo(pipe, max_new_tokens):
        llm = HuggingFacePipeline(pipeline=pipe)
        return RunnableLambda(lambda p: llm.invoke(p, pipeline_kwargs={
            "do_sample": False, "max_new_tokens": max_new_tokens})[len(p):])
    ''', "return a HuggingFacePipeline"),
])
def test_no_echo_wrong(env, answer, message):
    assert_caught(check(env, "no_echo", answer), message)


@pytest.mark.parametrize("answer", [
    # per call, through bind (one sequence asked for: KIND_BIND_KEEPS_PIPES_SEQUENCES below forgets it)
    '''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe).bind(pipeline_kwargs={
            "return_full_text": False, "do_sample": False, "max_new_tokens": max_new_tokens,
            "num_return_sequences": 1})
    ''',
    # cutting the prompt's characters, per call
    '''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipe).bind(skip_prompt=True, pipeline_kwargs={
            "do_sample": False, "max_new_tokens": max_new_tokens, "num_return_sequences": 1})
    ''',
    # a new pipeline around the same model, device=-1 ("where the model is" in transformers 5.23)
    '''
    def no_echo(pipe, max_new_tokens):
        return HuggingFacePipeline(pipeline=pipeline(
            task="text-generation", model=pipe.model, tokenizer=pipe.tokenizer, device=-1,
            return_full_text=False, do_sample=False, max_new_tokens=max_new_tokens))
    ''',
])
def test_no_echo_valid(env, answer):
    assert_passes(check(env, "no_echo", answer))


# ------------------------------------------------------------------ exercise 3: answer_all
@pytest.mark.parametrize("answer, message", [
    ('''
    def answer_all(chain, questions):
        return [chain.invoke({"question": q}).strip() for q in questions]
    ''', "not invoke() per question"),
    ('''
    def answer_all(chain, questions):
        return [chain.batch([{"question": q}])[0].strip() for q in questions]
    ''', "in one chain.batch([...]) call (you made 3)"),
    ('''
    def answer_all(chain, questions):
        return [a.strip() for a in chain.batch(questions)]
    ''', "one {'question': ...} dict per question"),
    ('''
    def answer_all(chain, questions):
        return chain.batch([{"question": q} for q in questions])
    ''', "surrounding whitespace (spaces, new lines) stripped"),
    ('''
    def answer_all(chain, questions):
        return [a.rstrip() for a in chain.batch([{"question": q} for q in questions])]
    ''', "surrounding whitespace"),
    ('''
    def answer_all(chain, questions):
        return sorted(a.strip() for a in chain.batch([{"question": q} for q in questions]))
    ''', "in the questions' order"),
    ('''
    def answer_all(chain, questions):
        return map(str.strip, chain.batch([{"question": q} for q in questions]))
    ''', "return a list"),
    ('''
    def answer_all(chain, questions):
        answers = chain.batch([{"question": q} for q in questions], config={"max_concurrency": 1})
        return [a.strip() for a in answers]
    ''', "do not limit the batch's concurrency"),
    ('''
    def answer_all(chain, questions):
        answers = chain.batch([{"question": q} for q in questions] or [{"question": ""}])
        return [a.strip() for a in answers]
    ''', "no questions: return an empty list"),
    ('''
    def answer_all(chain, questions):
        unique = list(dict.fromkeys(questions))
        return [a.strip() for a in chain.batch([{"question": q} for q in unique])]
    ''', "a question asked twice gets an answer each time"),
])
def test_answer_all_wrong(env, answer, message):
    assert_caught(check(env, "answer_all", answer), message)


@pytest.mark.parametrize("answer", [
    '''
    def answer_all(chain, questions):
        if not questions:
            return []
        inputs = [dict(question=q) for q in questions]
        return list(map(str.strip, chain.batch(inputs, return_exceptions=False)))
    ''',
    '''
    def answer_all(chain, questions):
        answers = chain.batch([{"question": q} for q in questions], config={"max_concurrency": 16})
        return [a.strip() for a in answers]
    ''',
])
def test_answer_all_valid(env, answer):
    assert_passes(check(env, "answer_all", answer))


# ------------------------------------------------------------------ exercise 4: cut_at_stop
COLLECT_THEN_CUT = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        text = "".join(pieces)
        ends = [text.find(s) for s in stops if s in text]
        if min(ends, default=len(text)) > 0:
            yield text[:min(ends, default=len(text))]
    return RunnableGenerator(cut)
'''

ONLY_THE_CURRENT_PIECE = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        for piece in pieces:
            ends = [piece.find(s) for s in stops if s in piece]
            if ends:
                if piece[:min(ends)]:
                    yield piece[:min(ends)]
                return
            if piece:
                yield piece
    return RunnableGenerator(cut)
'''

HOLDS_A_FIXED_TAIL = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    tail = max(len(s) for s in stops) - 1
    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            ends = [held.find(s) for s in stops if s in held]
            if ends:
                if held[:min(ends)]:
                    yield held[:min(ends)]
                return
            if len(held) > tail:
                yield held[:len(held) - tail]
                held = held[len(held) - tail:]
        if held:
            yield held
    return RunnableGenerator(cut)
'''

FORGETS_THE_TAIL = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            ends = [held.find(s) for s in stops if s in held]
            if ends:
                if held[:min(ends)]:
                    yield held[:min(ends)]
                return
            keep = max((n for s in stops for n in range(1, len(s)) if held.endswith(s[:n])), default=0)
            if len(held) > keep:
                yield held[:len(held) - keep]
                held = held[len(held) - keep:]
    return RunnableGenerator(cut)
'''

FIRST_STOP_IN_LIST_ORDER = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            for s in stops:
                if s in held:
                    if held[:held.find(s)]:
                        yield held[:held.find(s)]
                    return
            keep = max((n for s in stops for n in range(1, len(s)) if held.endswith(s[:n])), default=0)
            if len(held) > keep:
                yield held[:len(held) - keep]
                held = held[len(held) - keep:]
        if held:
            yield held
    return RunnableGenerator(cut)
'''

YIELDS_EMPTY_PIECES = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            ends = [held.find(s) for s in stops if s in held]
            if ends:
                yield held[:min(ends)]
                return
            keep = max((n for s in stops for n in range(1, len(s)) if held.endswith(s[:n])), default=0)
            yield held[:len(held) - keep]
            held = held[len(held) - keep:]
        yield held
    return RunnableGenerator(cut)
'''

LAMBDA_GENERATOR = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(text):
        ends = [text.find(s) for s in stops if s in text]
        end = min(ends, default=len(text))
        if end:
            yield text[:end]
    return RunnableLambda(cut)
'''

KEEPS_ONLY_THE_LAST_HELD_PART = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            ends = [held.find(s) for s in stops if s in held]
            if ends:
                if held[:min(ends)]:
                    yield held[:min(ends)]
                return
            keep = 1 if any(held.endswith(s[:1]) for s in stops) else 0
            if len(held) > keep:
                yield held[:len(held) - keep]
                held = held[len(held) - keep:]
        if held:
            yield held
    return RunnableGenerator(cut)
'''


@pytest.mark.parametrize("answer, message", [
    (COLLECT_THEN_CUT, "pass text on as it streams"),
    (ONLY_THE_CURRENT_PIECE, "split across pieces must be cut"),
    (HOLDS_A_FIXED_TAIL, "hold back only what could start a stop string"),
    (FORGETS_THE_TAIL, "text held back at the end of the stream must come out"),
    (FIRST_STOP_IN_LIST_ORDER, "cut at the one that occurs first in the text"),
    (YIELDS_EMPTY_PIECES, "no empty pieces"),
    (LAMBDA_GENERATOR, "pass text on as it streams"),
    (KEEPS_ONLY_THE_LAST_HELD_PART, "split across three pieces must still be cut"),
    ("def cut_at_stop(stops):\n    return lambda text: text.split(stops[0])[0]\n", "return a runnable"),
])
def test_cut_at_stop_wrong(env, answer, message):
    assert_caught(check(env, "streaming_stop", answer), message)


def test_an_endless_generator_is_reported_within_its_timeout(env):
    endless = '''
    from langchain_core.runnables import RunnableGenerator

    def cut_at_stop(stops):
        def cut(pieces):
            held = ""
            pieces = iter(pieces)
            while True:  # waits for a stop that never comes, and never leaves
                held += next(pieces, "")
                ends = [held.find(s) for s in stops if s in held]
                if ends:
                    if held[:min(ends)]:
                        yield held[:min(ends)]
                    return
        return RunnableGenerator(cut)
    '''
    start = time.perf_counter()
    with timeouts_scaled(0.2) as asked:  # waits 2 s of the learner's 10
        result = check(env, "streaming_stop", endless)
    elapsed = time.perf_counter() - start
    assert_caught(result, "no answer within 10 s", "does it loop after the last piece?")
    assert 10 in asked, asked
    # the learner's limit is in `asked`; the wall clock only catches a check that never gives up
    assert elapsed < 120, f"the endless answer took {elapsed:.0f} s to be reported"


@pytest.mark.parametrize("answer", [
    # one character at a time: more pieces, still streaming as soon as possible
    '''
    from langchain_core.runnables import RunnableGenerator

    def cut_at_stop(stops):
        def earliest(text):
            return min((text.find(s) for s in stops if s in text), default=None)

        def may_start(text):  # where the first proper prefix of a stop string ends the text
            return next((i for i in range(len(text))
                         if any(s.startswith(text[i:]) and len(text) - i < len(s) for s in stops)), len(text))

        def cut(pieces):
            held = ""
            for piece in pieces:
                held += piece
                end, start = earliest(held), may_start(held)
                if end is not None and end <= start:
                    yield from held[:end]
                    return
                yield from held[:start]
                held = held[start:]
            yield from held[:earliest(held)]
        return RunnableGenerator(cut)
    ''',
    # a Runnable class with its own transform and invoke
    '''
    from langchain_core.runnables import Runnable

    class Cut(Runnable):
        def __init__(self, stops):
            self.stops = stops

        def _safe(self, held):
            ends = [held.find(s) for s in self.stops if s in held]
            starts = [len(held) - n for s in self.stops for n in range(1, len(s)) if held.endswith(s[:n])]
            if ends and min(ends) <= min(starts, default=len(held)):
                return held[:min(ends)], None
            keep = len(held) - min(starts, default=len(held))
            return held[:len(held) - keep], held[len(held) - keep:]

        def transform(self, pieces, config=None, **kwargs):
            held = ""
            for piece in pieces:
                out, held = self._safe(held + piece)
                if out:
                    yield out
                if held is None:
                    return
            ends = [held.find(s) for s in self.stops if s in held]
            if held[:min(ends, default=len(held))]:
                yield held[:min(ends, default=len(held))]

        def invoke(self, value, config=None, **kwargs):
            return "".join(self.transform(iter([value])))

    def cut_at_stop(stops):
        return Cut(stops)
    ''',
])
def test_cut_at_stop_valid(env, answer):
    assert_passes(check(env, "streaming_stop", answer))


# ------------------------------------------------------------------ the issue's kinds of false pass
# Each answer below passed every check before the case that catches it was added (the comment names
# the kind of false pass it exploits); each is now caught with the message given.
KIND_PLACEHOLDER_TEMPLATE = '''
def chat_format_chain(llm, tokenizer, system=None):
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": "{question}"})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return PromptTemplate.from_template(text) | llm
'''

KIND_CHAT_PROMPT_TEMPLATE = '''
def chat_format_chain(llm, tokenizer, system=None):
    turns = ([("system", system)] if system is not None else []) + [("user", "{question}")]
    roles = {"system": "system", "human": "user"}

    def to_text(value):
        messages = [{"role": roles[m.type], "content": m.content} for m in value.to_messages()]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return ChatPromptTemplate.from_messages(turns) | RunnableLambda(to_text) | llm
'''

KIND_STR_FORMAT = '''
def chat_format_chain(llm, tokenizer, system=None):
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": "{question}"})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return RunnableLambda(lambda d: text.format(question=d["question"])) | llm
'''

KIND_BIND_KEEPS_PIPES_SEQUENCES = '''
def no_echo(pipe, max_new_tokens):
    return HuggingFacePipeline(pipeline=pipe).bind(pipeline_kwargs={
        "return_full_text": False, "do_sample": False, "max_new_tokens": max_new_tokens})
'''

KIND_EXACTLY_N_TOKENS = '''
def no_echo(pipe, max_new_tokens):
    quiet = pipeline("text-generation", model=pipe.model, tokenizer=pipe.tokenizer, device=pipe.device,
                     return_full_text=False, do_sample=False, max_new_tokens=max_new_tokens,
                     min_new_tokens=max_new_tokens)
    return HuggingFacePipeline(pipeline=quiet)
'''

KIND_FIRST_COMPLETED_STOP = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def held_back(text):
        return max((n for s in stops for n in range(1, len(s)) if text.endswith(s[:n])), default=0)

    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            found = [held.find(s) for s in stops if s in held]
            if found:
                if held[:min(found)]:
                    yield held[:min(found)]
                return
            keep = held_back(held)
            if len(held) > keep:
                yield held[:len(held) - keep]
                held = held[len(held) - keep:]
        if held:
            yield held
    return RunnableGenerator(cut)
'''

KIND_STRIPS_BEFORE_THE_STOP = '''
from langchain_core.runnables import RunnableGenerator


def cut_at_stop(stops):
    def cut(pieces):
        held = ""
        for piece in pieces:
            held += piece
            found = min((held.find(s) for s in stops if s in held), default=len(held) + 1)
            pending = min((len(held) - n for s in stops for n in range(1, len(s)) if held.endswith(s[:n])),
                          default=len(held))
            if found <= pending:
                if held[:found].rstrip():
                    yield held[:found].rstrip()  # "tidy" text before the stop
                return
            if held[:pending]:
                yield held[:pending]
            held = held[pending:]
        found = min((held.find(s) for s in stops if s in held), default=len(held))
        if held[:found].rstrip():
            yield held[:found].rstrip()
    return RunnableGenerator(cut)
'''

KIND_ONE_ANSWER_PER_DISTINCT_QUESTION = '''
def answer_all(chain, questions):
    answers = chain.batch([{"question": q} for q in questions])
    by_question = dict(zip(questions, answers))
    return [by_question[q].strip() for q in questions]
'''


@pytest.mark.parametrize("question, answer, message", [
    # braces in a system prompt: the system text goes through a prompt template, which reads { } as
    # variables (a KeyError) or turns {{ }} into { }
    ("chat_format_chain", KIND_PLACEHOLDER_TEMPLATE, "braces"),
    ("chat_format_chain", KIND_CHAT_PROMPT_TEMPLATE, "braces"),
    ("chat_format_chain", KIND_STR_FORMAT, "braces"),
    # only one sequence per input ever tested: pipe returning two sequences per prompt makes greedy
    # settings bound per call fail, unless they also ask for one sequence
    ("no_echo", KIND_BIND_KEEPS_PIPES_SEQUENCES, "num_return_sequences"),
    # a tiny model that never emits EOS: "exactly N tokens" looked like "at most N"; rows that end at
    # different steps in one batch
    ("no_echo", KIND_EXACTLY_N_TOKENS, "ends one of these answers early, with its end-of-sequence token"),
    # stops that end inside a piece, and another stop that completes first but starts later in the text
    # (earliest in the text, not first completed nor first in the list)
    ("streaming_stop", KIND_FIRST_COMPLETED_STOP, "starts earliest in the text"),
    # a space before punctuation: the text before the stop keeps its trailing space
    ("streaming_stop", KIND_STRIPS_BEFORE_THE_STOP, "a space before the stop string included"),
    # the same question asked twice, answered differently (an LLM that samples)
    ("answer_all", KIND_ONE_ANSWER_PER_DISTINCT_QUESTION,
     "a question asked twice gets an answer each time, its own"),
])
def test_the_issues_false_passes_are_caught(env, question, answer, message):
    assert_caught(check(env, question, answer), message)
