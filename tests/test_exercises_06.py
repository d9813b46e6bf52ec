"""Lesson 06's checks against wrong and right answers (tests/exercise_harness.py, run in `.venv-openvino`).

Lesson 06 runs in its own environment (optimum-intel pins transformers below 5.6), so its checks
cannot run in this process: one `.venv-openvino` subprocess builds the names the exercises use
(the tiny model exported to OpenVINO, the predictions' experiment results), runs every case below
against the lesson's full tests (public and hidden, as the grader does) and prints the results as
JSON. Each case is then its own pytest test, asserting the outcome and the message a learner reads.

A case: (question, name, answer source, passes?, a fragment of the message it must get). Wrong
answers are plausible mistakes; valid alternatives are other correct answers the text allows.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPENVINO_PYTHON = ROOT / ".venv-openvino" / "bin" / "python"
LESSON = "06_openvino"
HANG_TIMEOUT_S = 30  # what the lesson's runnable checks allow a call (course_utils.exercises.within)
# Answers that hang or never end wait this fraction of the learner's timeouts (the messages still
# name the real ones): tests/exercise_harness.py's timeouts_scaled.
HANGS = {"langchain_openvino/deadlocks": 0.2, "group_size/endless_loop": 0.2}

# The names a lesson answer cell can use, as the notebook defines them above the exercises.
PRELUDE = """
import pandas as pd
from langchain_huggingface import HuggingFacePipeline
from optimum.intel import OVModelForCausalLM
from transformers import AutoTokenizer, pipeline
"""

RUNNER = r'''
import contextlib, json, os, shutil, sys, tempfile, time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, os.environ["COURSE_ROOT"])
sys.path.insert(0, os.path.join(os.environ["COURSE_ROOT"], "tests"))
cases = json.load(sys.stdin)
with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON results
    from optimum.intel import OVModelForCausalLM
    from transformers import AutoTokenizer

    from course_utils.models import cache_dir, tiny_model_path
    from exercise_harness import failure_text, run_check, timeouts_scaled, with_answer

    # The notebook's untagged cells, as the exercises see them: the tiny exported model ...
    tiny = cache_dir() / f"tiny-random-smollm2-openvino-{version('optimum-intel')}"
    if not (tiny / "openvino_model.xml").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir()))
        exported = OVModelForCausalLM.from_pretrained(tiny_model_path(), export=True, compile=False)
        exported.save_pretrained(staging)
        AutoTokenizer.from_pretrained(tiny_model_path()).save_pretrained(staging)
        try:
            staging.rename(tiny)
        except OSError:
            shutil.rmtree(staging)
    plain = OVModelForCausalLM.from_pretrained(str(tiny))
    compiled = plain.request.get_compiled_model()
    env = {"TINY_OV": str(tiny), "plain_ov_config": dict(plain.ov_config),
           "default_compute": str(compiled.get_property("INFERENCE_PRECISION_HINT"))}
    env = with_answer(env, os.environ["PRELUDE"])
    results = {}
    for case in cases:
        start = time.perf_counter()
        try:
            with timeouts_scaled(case["timeouts_scaled"]):
                result = run_check(os.environ["LESSON"], case["question"], with_answer(env, case["source"]))
            outcome = {"passed": result.passed, "failures": failure_text(result)}
        except Exception as err:  # an answer cell that does not even run
            outcome = {"passed": False, "failures": f"answer cell failed: {type(err).__name__}: {err}"}
        outcome["seconds"] = round(time.perf_counter() - start, 2)
        results[case["id"]] = outcome
print(json.dumps(results))
'''

CASES = [
    # (the predictions: tests/test_predictions.py, the same for every lesson)
    # ---------------------------------------------------------------- group_size (Exercise 1)
    ("group_size", "first_size_only", """
        def pick_group_size(sizes, preferred=128):
            size = preferred
            while size >= 16:
                if sizes[0] % size == 0:
                    return size
                size //= 2
            return None
     """, False, "must divide every layer's size"),
    ("group_size", "fixed_candidates", """
        def pick_group_size(sizes, preferred=128):
            for size in (128, 64, 32, 16):
                if size <= preferred and all(n % size == 0 for n in sizes):
                    return size
            return None
     """, False, "`preferred` can be above 128"),
    ("group_size", "preferred_not_rounded", """
        def pick_group_size(sizes, preferred=128):
            size = preferred
            while size >= 16:
                if all(n % size == 0 for n in sizes):
                    return size
                size //= 2
            return None
     """, False, "need not be a power of two"),
    ("group_size", "minimum_8", """
        def pick_group_size(sizes, preferred=128):
            size = 1 << (preferred.bit_length() - 1)
            while size >= 8:
                if all(n % size == 0 for n in sizes):
                    return size
                size //= 2
            return None
     """, False, "never below 16"),
    ("group_size", "zero_for_none", """
        def pick_group_size(sizes, preferred=128):
            size = 1 << (preferred.bit_length() - 1)
            while size >= 16:
                if all(n % size == 0 for n in sizes):
                    return size
                size //= 2
            return 0
     """, False, "return None"),
    ("group_size", "gcd_ignores_preferred", """
        import math
        def pick_group_size(sizes, preferred=128):
            common = math.gcd(*sizes)
            size = common & -common
            return size if size >= 16 else None
     """, False, "never above `preferred`"),
    ("group_size", "gcd_and_bits", """
        import math
        def pick_group_size(sizes, preferred=128):
            if preferred < 16:
                return None
            common = math.gcd(*sizes)
            size = min(common & -common, 1 << (int(preferred).bit_length() - 1))
            return size if size >= 16 else None
     """, True, ""),
    ("group_size", "candidates_from_preferred", """
        def pick_group_size(sizes, preferred=128):
            powers = [2 ** k for k in range(4, 40) if 2 ** k <= preferred]
            fitting = [p for p in powers if all(n % p == 0 for n in sizes)]
            return max(fitting) if fitting else None
     """, True, ""),
    # ---------------------------------------------------------------- best_variant (Exercise 2)
    ("best_variant", "strictly_above", """
        def best_variant(table, min_prefix_agreement):
            good = table[table["prefix_agreement"] > min_prefix_agreement]
            return None if good.empty else good["tokens_per_s"].idxmax()
     """, False, "equal to the minimum is enough"),
    ("best_variant", "ignores_minimum", """
        def best_variant(table, min_prefix_agreement):
            return table["tokens_per_s"].idxmax()
     """, False, "pick the fastest of the variants that reach it"),
    ("best_variant", "position", """
        def best_variant(table, min_prefix_agreement):
            good = table[table["prefix_agreement"] >= min_prefix_agreement]
            return None if good.empty else int(good["tokens_per_s"].argmax())
     """, False, "not its position"),
    ("best_variant", "first_qualifying", """
        def best_variant(table, min_prefix_agreement):
            good = table[table["prefix_agreement"] >= min_prefix_agreement]
            return None if good.empty else good.index[0]
     """, False, "pick the fastest of the variants that reach it"),
    ("best_variant", "sorts_in_place", """
        def best_variant(table, min_prefix_agreement):
            table.sort_values("tokens_per_s", ascending=False, inplace=True)
            good = table[table["prefix_agreement"] >= min_prefix_agreement]
            return None if good.empty else good.index[0]
     """, False, "leave the table as it is"),
    ("best_variant", "first_column_is_speed", """
        def best_variant(table, min_prefix_agreement):
            good = table[table["prefix_agreement"] >= min_prefix_agreement]
            return None if good.empty else good.iloc[:, 0].idxmax()
     """, False, "whatever the row order"),
    ("best_variant", "empty_string", """
        def best_variant(table, min_prefix_agreement):
            good = table[table["prefix_agreement"] >= min_prefix_agreement]
            return "" if good.empty else good["tokens_per_s"].idxmax()
     """, False, "return None"),
    ("best_variant", "speed_among_most_agreeing", """
        def best_variant(table, min_prefix_agreement):
            good = table[table["prefix_agreement"] >= min_prefix_agreement]
            return None if good.empty else good.sort_values("prefix_agreement").index[-1]
     """, False, "pick the fastest"),
    ("best_variant", "query_and_sort", """
        def best_variant(table, min_prefix_agreement):
            good = table.query("prefix_agreement >= @min_prefix_agreement")
            ranked = good.sort_values("tokens_per_s", ascending=False)
            return ranked.index[0] if len(ranked) else None
     """, True, ""),
    ("best_variant", "plain_loop", """
        def best_variant(table, min_prefix_agreement):
            best, best_speed = None, float("-inf")
            for name, row in table.iterrows():
                if row["prefix_agreement"] >= min_prefix_agreement and row["tokens_per_s"] > best_speed:
                    best, best_speed = name, row["tokens_per_s"]
            return best
     """, True, ""),
    # ---------------------------------------------------------------- many_users (Exercise 3)
    ("many_users", "latency_hint", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "NUM_STREAMS": str(streams), "KV_CACHE_PRECISION": kv_cache})
            got = model.request.get_compiled_model().get_property("NUM_STREAMS")
            if got != streams:
                raise ValueError(f"got {got} streams")
            return model
     """, False, "is not THROUGHPUT"),
    ("many_users", "streams_ignored", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            return OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "KV_CACHE_PRECISION": kv_cache})
     """, False, "set NUM_STREAMS"),
    ("many_users", "kv_cache_ignored", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams)})
            got = model.request.get_compiled_model().get_property("NUM_STREAMS")
            if got != streams:
                raise ValueError(f"got {got} streams")
            return model
     """, False, "set KV_CACHE_PRECISION"),
    ("many_users", "kv_cache_hard_coded", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams), "KV_CACHE_PRECISION": "f32"})
            got = model.request.get_compiled_model().get_property("NUM_STREAMS")
            if got != streams:
                raise ValueError(f"got {got} streams")
            return model
     """, False, "set KV_CACHE_PRECISION"),
    ("many_users", "never_compiled", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            return OVModelForCausalLM.from_pretrained(folder, compile=False, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
     """, False, "the model is not compiled"),
    ("many_users", "returns_the_request", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
            return model.request
     """, False, "return the OVModelForCausalLM itself"),
    ("many_users", "never_checks_the_cap", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            return OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
     """, False, "did not raise ValueError"),
    ("many_users", "checks_its_own_dict", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
            if int(model.ov_config["NUM_STREAMS"]) != streams:
                raise ValueError("fewer streams")
            return model
     """, False, "did not raise ValueError"),
    ("many_users", "error_without_the_number", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
            if model.request.get_compiled_model().get_property("NUM_STREAMS") != streams:
                raise ValueError("OpenVINO gave fewer streams")
            return model
     """, False, "say how many streams"),
    ("many_users", "compares_text_with_number", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
            got = model.request.get_compiled_model().get_property("NUM_STREAMS")
            if str(got) != streams:
                raise ValueError(f"got {got} streams")
            return model
     """, False, "1 stream is always possible"),
    ("many_users", "compile_later", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, compile=False)
            model.ov_config.update({"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams,
                                    "KV_CACHE_PRECISION": kv_cache})
            model.compile()
            got = int(model.request.get_compiled_model().get_property("NUM_STREAMS"))
            if got < streams:
                raise ValueError(f"only {got} streams compiled")
            return model
     """, True, ""),
    ("many_users", "compile_false_in_loading", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            settings = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                        "KV_CACHE_PRECISION": kv_cache}
            model = OVModelForCausalLM.from_pretrained(folder, ov_config=settings, compile=False,
                                                       device="CPU")
            model.compile()
            compiled = model.request.get_compiled_model()
            if compiled.get_property("NUM_STREAMS") != streams:
                raise ValueError(f"{compiled.get_property('NUM_STREAMS')} streams, not {streams}")
            return model
     """, True, ""),
    # ---------------------------------------------------------------- langchain_openvino (Exercise 4)
    ("langchain_openvino", "samples", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", model_kwargs={"device": device},
                device=-1, pipeline_kwargs={"max_new_tokens": max_new_tokens, "return_full_text": False})
     """, False, "not the greedy answer"),
    ("langchain_openvino", "echoes_the_prompt", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", model_kwargs={"device": device},
                device=-1, pipeline_kwargs={"max_new_tokens": max_new_tokens, "do_sample": False})
     """, False, "return only the completion"),
    ("langchain_openvino", "full_text_in_the_wrong_place", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            model = OVModelForCausalLM.from_pretrained(folder, device=device)
            pipe = pipeline("text-generation", model=model, device="cpu",
                            tokenizer=AutoTokenizer.from_pretrained(folder),
                            max_new_tokens=max_new_tokens, do_sample=False)
            return HuggingFacePipeline(pipeline=pipe, pipeline_kwargs={"return_full_text": False})
     """, False, "return only the completion"),
    ("langchain_openvino", "device_ignored", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", device=-1,
                pipeline_kwargs={"max_new_tokens": max_new_tokens, "do_sample": False,
                                 "return_full_text": False})
     """, False, "not compiled for the device asked"),
    ("langchain_openvino", "device_to_pytorch", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", device=device,
                pipeline_kwargs={"max_new_tokens": max_new_tokens, "do_sample": False,
                                 "return_full_text": False})
     """, False, "not to from_model_id's own `device`"),
    ("langchain_openvino", "fixed_length", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", model_kwargs={"device": device},
                device=-1,
                pipeline_kwargs={"max_new_tokens": 32, "do_sample": False, "return_full_text": False})
     """, False, "not the right length"),
    ("langchain_openvino", "pytorch_backend", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                "%s", task="text-generation",
                pipeline_kwargs={"max_new_tokens": max_new_tokens, "do_sample": False,
                                 "return_full_text": False})
     """, False, "not an OpenVINO model"),
    ("langchain_openvino", "returns_the_pipeline", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            model = OVModelForCausalLM.from_pretrained(folder, device=device)
            return pipeline("text-generation", model=model, device="cpu",
                            tokenizer=AutoTokenizer.from_pretrained(folder),
                            max_new_tokens=max_new_tokens, do_sample=False, return_full_text=False)
     """, False, "return LangChain's HuggingFacePipeline"),
    ("langchain_openvino", "deadlocks", """
        import threading
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            threading.Event().wait()
     """, False, f"no answer within {HANG_TIMEOUT_S} s"),
    ("langchain_openvino", "own_pipeline", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            model = OVModelForCausalLM.from_pretrained(folder, device=device)
            pipe = pipeline("text-generation", model=model, device="cpu",
                            tokenizer=AutoTokenizer.from_pretrained(folder),
                            max_new_tokens=max_new_tokens, do_sample=False, return_full_text=False)
            return HuggingFacePipeline(pipeline=pipe)
     """, True, ""),
    ("langchain_openvino", "greedy_in_the_model_config", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            model = OVModelForCausalLM.from_pretrained(folder, device=device)
            model.generation_config.do_sample = False  # the pipeline's own default (sampling) still wins
            pipe = pipeline("text-generation", model=model, device="cpu",
                            tokenizer=AutoTokenizer.from_pretrained(folder),
                            max_new_tokens=max_new_tokens, return_full_text=False)
            return HuggingFacePipeline(pipeline=pipe)
     """, False, "not the greedy answer"),
    ("langchain_openvino", "moved_then_compiled", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            model = OVModelForCausalLM.from_pretrained(folder, compile=False)
            model.to(device)
            model.compile()
            pipe = pipeline("text-generation", model=model, device="cpu",
                            tokenizer=AutoTokenizer.from_pretrained(folder),
                            max_new_tokens=max_new_tokens, do_sample=False, return_full_text=False)
            return HuggingFacePipeline(pipeline=pipe)
     """, True, ""),
    # ---------------------------------------------------------------- the kinds of false pass
    # Each answer below passed every check before the case that catches it was added; the comment names
    # the kind of false pass it exploits.
    # An OpenVINO configuration whose automatic choice here equals the asked one: this IR's own KV cache
    # precision is f16, and f16 was asked only where the streams were capped (never read back).
    ("many_users", "kv_f16_becomes_u8", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": "f32" if kv_cache == "f32" else "u8"})
            got = model.request.get_compiled_model().get_property("NUM_STREAMS")
            if got != streams:
                raise ValueError(f"asked for {streams} streams, OpenVINO compiled {got}")
            return model
     """, False, "the KV cache is stored otherwise"),
    # The cap equals the machine's core count on the 2-core reference machine: an answer that predicts it
    # from os.cpu_count() instead of reading NUM_STREAMS back looked right.
    ("many_users", "cap_from_cpu_count", """
        import os
        def load_for_many_users(folder, streams, kv_cache="u8"):
            if streams > os.cpu_count():
                raise ValueError(f"only {os.cpu_count()} streams are possible here")
            return OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
     """, False, "read NUM_STREAMS back from the compiled model"),
    # The compiled count (2 here) is a digit of the asked one (24): a message naming only the asked
    # number looked as if it said how many streams the model got.
    ("many_users", "error_names_the_asked_number", """
        def load_for_many_users(folder, streams, kv_cache="u8"):
            model = OVModelForCausalLM.from_pretrained(folder, ov_config={
                "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": str(streams),
                "KV_CACHE_PRECISION": kv_cache})
            if model.request.get_compiled_model().get_property("NUM_STREAMS") != streams:
                raise ValueError(f"asked for {streams} streams; OpenVINO compiled fewer")
            return model
     """, False, "say how many streams"),
    # The pipeline's automatic device is the CPU on a machine without an accelerator: an answer that
    # gives the pipeline no device runs on cuda:0 on a Colab GPU (the former solution).
    ("langchain_openvino", "pipeline_device_left_automatic", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", model_kwargs={"device": device},
                pipeline_kwargs={"max_new_tokens": max_new_tokens, "do_sample": False,
                                 "return_full_text": False})
     """, False, "cuda:0"),
    # A tiny model that never emits EOS: "exactly max_new_tokens" looked like "at most".
    ("langchain_openvino", "exactly_n_tokens", """
        def openvino_llm(folder, device="CPU", max_new_tokens=32):
            return HuggingFacePipeline.from_model_id(
                str(folder), task="text-generation", backend="openvino", device=-1,
                model_kwargs={"device": device},
                pipeline_kwargs={"max_new_tokens": max_new_tokens, "min_new_tokens": max_new_tokens,
                                 "do_sample": False, "return_full_text": False})
     """, False, "end-of-sequence"),
    # last: its loop keeps spinning in a thread nobody can stop, and would slow the cases after it
    ("group_size", "endless_loop", """
        def pick_group_size(sizes, preferred=128):
            size = preferred
            while size >= 16:
                if all(n % size == 0 for n in sizes):
                    return size
            return None
     """, False, "does your loop end"),
]


def _tiny_pytorch_folder() -> str:
    from course_utils.models import tiny_model_path

    return str(tiny_model_path())


@pytest.fixture(scope="module")
def results():
    """Run every case once in `.venv-openvino` (one process: its imports take most of the time)."""
    if not OPENVINO_PYTHON.is_file():
        pytest.skip("lesson 06 needs .venv-openvino: run `bash scripts/setup.sh` without SKIP_OPENVINO=1")
    cases = []
    for question, name, source, _, _ in CASES:
        source = textwrap.dedent(source)
        if "%s" in source:  # the PyTorch folder of the tiny model, for the wrong-backend answer
            source = source % _tiny_pytorch_folder()
        case_id = f"{question}/{name}"
        cases.append({"id": case_id, "question": question, "source": source,
                      "timeouts_scaled": HANGS.get(case_id, 1.0)})
    env = {**os.environ, "COURSE_ROOT": str(ROOT), "PRELUDE": PRELUDE, "LESSON": LESSON,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([str(OPENVINO_PYTHON), "-c", RUNNER], input=json.dumps(cases), env=env,
                          capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert done.returncode == 0, f"the lesson 06 check runner failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("question", "name", "source", "passes", "message"), CASES,
                         ids=[f"{q}-{n}" for q, n, *_ in CASES])
def test_case(results, question, name, source, passes, message):
    outcome = results[f"{question}/{name}"]
    if passes:
        assert outcome["passed"], f"a valid answer was rejected:\n{outcome['failures']}"
        return
    assert not outcome["passed"], "a wrong answer passed every check"
    assert message in outcome["failures"], f"expected a message with {message!r}, got:\n{outcome['failures']}"


def test_every_question_has_three_wrong_answers_and_a_valid_one():
    questions = {q for q, *_ in CASES}
    checks = ROOT / "course_utils" / "checks" / LESSON / "autograder"
    lesson_questions = {p.stem for p in checks.glob("*.py") if not p.stem.startswith("predict_")}
    assert questions == lesson_questions, "every question of the lesson needs cases here"
    for question in questions:
        outcomes = [passes for q, _, _, passes, _ in CASES if q == question]
        assert outcomes.count(False) >= 3 and outcomes.count(True) >= 1, question


def test_a_hanging_answer_is_reported_within_its_timeout(results):
    outcome = results["langchain_openvino/deadlocks"]
    assert not outcome["passed"]
    assert "did not answer in time in an earlier check" in outcome["failures"], \
        "the hidden check should not wait a second time for an answer that already hung"
    assert f"no answer within {HANG_TIMEOUT_S} s" in outcome["failures"], outcome["failures"]
    waited = HANG_TIMEOUT_S * HANGS["langchain_openvino/deadlocks"]
    # the slack covers building the pipeline first on a busy machine (16.5 s in a CI run); waiting the
    # learner's full 30 s would still fail
    assert outcome["seconds"] < waited + 20, f"the hang took {outcome['seconds']} s to report"
    endless = results["group_size/endless_loop"]  # 10 s for the public case, 10 s for the hidden one
    waited = 2 * 10 * HANGS["group_size/endless_loop"]
    assert endless["seconds"] < waited + 10 and "does your loop end" in endless["failures"], endless
