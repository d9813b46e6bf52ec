"""Helpers for the course *LLM inference with 🤗 Transformers pipelines*.

Small and flat, named by what they do:

- ``course_utils.models``: which model the course uses (``resolve_model``, ``load_pipeline`` ...);
- ``course_utils.device``: device and dtype choice (``show_device``, ``pipeline_kwargs``);
- ``course_utils.timing``: ``Timer``, ``benchmark``, ``measure_generation``, ``benchmark_generation``;
- ``course_utils.generation``: validated generation settings, presets, ``distinct_n``;
- ``course_utils.grading``: the exercise checks (``exercise_checker``) and notebook grading;
- ``course_utils.notebooks`` and ``course_utils.assign``: the notebook skeleton and the build.

The most used names are importable from the package itself: ``from course_utils import Timer``.
"""

from __future__ import annotations

import importlib
import platform
from importlib import metadata

__version__ = "0.1.0"

# The course's GitHub repository ("owner/name"): the one place it is written. Colab badges, the
# Colab setup cell and the install command are generated from it by `python -m course_utils.assign`.
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
    "exercise_checker": "grading",
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
