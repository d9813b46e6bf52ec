"""Helpers for the course *LLM inference with 🤗 Transformers pipelines*.

Small and flat, named by what they do:

- ``course_utils.models``: which model the course uses (``resolve_model``, ``load_pipeline`` ...);
- ``course_utils.device``: device and dtype choice (``show_device``, ``pipeline_kwargs``);
- ``course_utils.timing``: ``Timer``, ``benchmark``, ``measure_generation``, ``benchmark_generation``;
- ``course_utils.generation``: validated generation settings, presets, ``distinct_n``;
- ``course_utils.compare``: comparing inference backends (``greedy_run``, ``agreement``);
- ``course_utils.exercises``: the exercise checks a notebook's check cells run (``exercise_checker``).
- ``course_utils.constrained``: constrained decoding in ``generate()`` (``token_texts``,
  ``GrammarProcessor``; lesson 08).

Bigger pieces live in subpackages that ``import course_utils`` does not load:

- ``course_utils.server``: the reference server (lessons 03-05);
- ``course_utils.bench``: load tests and server benchmarks;
- ``course_utils.build`` and ``course_utils.grade``: the course's build and grading tooling, for
  contributors and instructors.

The most used names are importable from the package itself: ``from course_utils import Timer``.
"""

from __future__ import annotations

import importlib
import platform
from importlib import metadata

__version__ = "0.1.0"

# The course's GitHub repository ("owner/name"): the one place it is written. Colab badges, the
# Colab setup cell and the install command are generated from it by `python -m course_utils.build`.
REPO = "llm-inference-course/transformers-pipelines-course"
BRANCH = "main"

_LAZY = {
    "show_device": "device",
    "pick_device": "device",
    "pick_dtype": "device",
    "pipeline_kwargs": "device",
    "Timer": "timing",
    "benchmark": "timing",
    "measure_generation": "timing",
    "benchmark_generation": "timing",
    "plot_benchmark": "timing",
    "resolve_model": "models",
    "load_model": "models",
    "load_tokenizer": "models",
    "load_pipeline": "models",
    "tiny_model_path": "models",
    "exercise_checker": "exercises",
}


def __getattr__(name: str):
    # Lazy re-exports: `python -m course_utils.grade` need not import torch to start.
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def show_versions(*packages: str) -> None:
    """Print Python's version and each package's (default: the course's core set)."""
    packages = packages or ("torch", "transformers", "accelerate", "course-utils")
    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    width = max(map(len, found))
    for name, version in found.items():
        print(f"{name:<{width}}  {version}")
