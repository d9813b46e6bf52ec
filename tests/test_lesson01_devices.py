"""Lesson 01 with the shared model on another device than the CPU: no cell or check moves or changes it.

On a GPU, a demonstration that moves the notebook's `model` (``pipeline(model=model, device="cpu")``
does, in place) or changes its `tokenizer` breaks every later cell and check ("Expected all
tensors to be on the same device"). Without a GPU, PyTorch's ``meta`` device shows it: the shared
model is moved to ``meta`` right after the lesson loads it, its ``to``/``cuda``/``cpu`` are
recorded, and every later cell runs. A cell that moves the model fails (a meta tensor cannot be
copied anywhere) and is reported; cells that only compute with the model fail too (meta tensors
hold no data) and are ignored: this test is about placement and shared state, not results.
Then the exercise checks run against that notebook state, as the grader runs them.

``LESSON01_NOTEBOOK=path`` runs the same test on another version of the notebook (for example the
lesson before this fix, to see the test fail).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from exercise_harness import failure_text, run_check

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = Path(os.environ.get("LESSON01_NOTEBOOK",
                               ROOT / "notebooks" / "solutions" / "01_pipeline_basics.ipynb"))
EXERCISES = ["tokens_round_trip", "continuation_probability", "batch_replies", "batch_generate",
             "kv_cache_loop"]


@dataclass
class MetaRun:
    """What happened to the shared model and tokenizer while the cells ran."""

    moves: list[str] = field(default_factory=list)  # "cell N: model.to('cpu')"
    changes: list[str] = field(default_factory=list)  # "cell N: tokenizer.padding_side 'right' -> 'left'"
    failed_on_meta: list[int] = field(default_factory=list)  # cells that could not compute on meta
    namespace: dict = field(default_factory=dict)


def code_cells(path: Path) -> list[tuple[int, str]]:
    """The notebook's code cells, without the check cells (the test runs the checks itself)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and not source.lstrip().startswith("grader.check"):
            cells.append((index, source))
    return cells


def _record_moves(model, moves: list[str], where: list[int]) -> None:
    for name in ("to", "cuda", "cpu"):
        real = getattr(model, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
            moves.append(f"cell {where[0]}: model.{_name}({shown})")
            return _real(*args, **kwargs)

        setattr(model, name, spy)


def run_on_meta(cells: list[tuple[int, str]]) -> MetaRun:
    """Run ``cells`` in one namespace; from the cell that loads ``model`` on, keep it on ``meta``."""
    import torch

    run, current, shared = MetaRun(), [0], {}
    ns = run.namespace
    for index, source in cells:
        current[0] = index
        moves_before = len(run.moves)
        try:
            exec(compile(source, f"<cell {index}>", "exec"), ns)
        except Exception:  # noqa: BLE001 - see the module docstring
            if len(run.moves) == moves_before:
                run.failed_on_meta.append(index)
        model = ns.get("model")
        if not shared and isinstance(model, torch.nn.Module):
            model.to("meta")
            _record_moves(model, run.moves, current)
            tokenizer = ns["tokenizer"]
            shared.update(model=model, tokenizer=tokenizer, side=tokenizer.padding_side,
                          pad=tokenizer.pad_token, generation=model.generation_config.to_dict())
            continue
        if shared:
            if ns.get("model") is not shared["model"] or ns.get("tokenizer") is not shared["tokenizer"]:
                run.changes.append(f"cell {index}: rebinds `model` or `tokenizer`")
            elif shared["model"].device.type != "meta":
                run.changes.append(f"cell {index}: the model is now on {shared['model'].device}")
            tokenizer = shared["tokenizer"]
            if (tokenizer.padding_side, tokenizer.pad_token) != (shared["side"], shared["pad"]):
                run.changes.append(f"cell {index}: tokenizer padding_side/pad_token "
                                   f"{shared['side']!r}/{shared['pad']!r} -> "
                                   f"{tokenizer.padding_side!r}/{tokenizer.pad_token!r}")
                shared.update(side=tokenizer.padding_side, pad=tokenizer.pad_token)
            if shared["model"].generation_config.to_dict() != shared["generation"]:
                run.changes.append(f"cell {index}: model.generation_config changed")
                shared["generation"] = shared["model"].generation_config.to_dict()
    assert shared, "no cell defined `model`: is this lesson 01?"
    return run


@pytest.fixture(autouse=True)
def _quiet_plots(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_lesson_and_checks_leave_the_shared_model_where_it_is(course_model_dir):
    run = run_on_meta(code_cells(NOTEBOOK))
    assert not run.moves, ("cells moved the shared model (on a GPU every later cell breaks):\n"
                           + "\n".join(run.moves))
    assert not run.changes, "cells changed what later cells use:\n" + "\n".join(run.changes)
    # The demonstrations that must run with the model elsewhere did run (not silently skipped).
    ns = run.namespace
    assert "generator" in ns and ns["generator"].model is ns["model"], "section 2.4's pipeline was not built"
    assert ns["generator"].tokenizer is not ns["tokenizer"], "the pipeline must get a tokenizer of its own"
    for question in EXERCISES:
        result = run_check("01_pipeline_basics", question, ns)
        assert result.passed, f"{question} fails with the shared model on meta:\n{failure_text(result)}"
    assert ns["model"].device.type == "meta", "a check moved the shared model"
    assert ns["tokenizer"].padding_side == "right", "a check changed the shared tokenizer"


OLD_DEMO = [
    (0, "from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline\n"
        "from course_utils.models import resolve_model\n"
        "MODEL = resolve_model()\n"
        "tokenizer = AutoTokenizer.from_pretrained(MODEL.path)\n"
        "model = AutoModelForCausalLM.from_pretrained(MODEL.path).eval()"),
    (1, 'generator = pipeline("text-generation", model=model, tokenizer=tokenizer)'),
    (2, 'both = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu", '
        'device_map="auto")'),
]


def test_the_old_loading_demo_is_caught(course_model_dir):
    """The lesson's former cells: section 2.4's pipeline and the device/device_map demonstration."""
    run = run_on_meta(OLD_DEMO)
    assert any(m.startswith("cell 2: model.to(") for m in run.moves), run.moves
    # device left out means 0: the first GPU, else the CPU, so the meta model is moved too
    assert any(m.startswith("cell 1: model.to(") for m in run.moves), run.moves
    # (the tokenizer's padding_side change comes after that move in TextGenerationPipeline.__init__,
    # so on meta, where the move raises, it never happens: test_a_shared_tokenizer_change_is_caught)


def test_a_shared_tokenizer_change_is_caught(course_model_dir):
    # what pipeline() does to the tokenizer it is given
    cells = [OLD_DEMO[0], (1, 'tokenizer.padding_side = "left"')]
    run = run_on_meta(cells)
    assert any(c.startswith("cell 1: tokenizer padding_side") for c in run.changes), run.changes
