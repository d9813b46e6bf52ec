"""Measurements kept between runs of a notebook, on the machine that made them.

Some measurements take minutes (lesson 07 restarts vLLM once per configuration it compares). A
learner who runs the notebook again, or CI, which runs a lesson's student and solutions notebooks
on the same machine, should not wait for them twice. ``remembered(label, key, measure)`` returns
the rows ``measure()`` gave the last time it ran *on this machine* with the same ``key`` (the
settings that determine the result: configurations, loads, versions), and when that was; it
measures and keeps them otherwise. The notebook prints when the figures were measured, so a
remembered figure is never passed off as a fresh one, and ``fresh=True`` measures again.
``COURSE_REMEMBER_SINCE`` (Unix seconds; ``scripts/test.sh`` sets it to its start) forgets what was
kept before then: CI measures in its solutions run, whatever an earlier run left on the machine,
and its student run reuses that.

Kept as JSON in the course cache (``course_utils.models.cache_dir()/measurements``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from datetime import datetime, timezone


def _machine() -> dict:
    """What makes a machine's figures its own: its name, CPU and number of cores."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"node": platform.node(), "cpu": cpu, "cores": os.cpu_count()}


def _kept(label: str, key: dict):
    """(where ``label``/``key``'s rows are kept, the full key, what is kept there or None)."""
    from ..models import cache_dir

    full_key = {"label": label, "machine": _machine(), **key}
    digest = hashlib.sha256(json.dumps(full_key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir() / "measurements" / f"{label}-{digest}.json"
    kept = None
    if path.is_file():
        try:
            kept = json.loads(path.read_text())
            if kept.get("key") != json.loads(json.dumps(full_key, default=str)):
                kept = None
        except (OSError, ValueError, KeyError, AttributeError):
            kept = None  # unreadable: measure again
    since = os.environ.get("COURSE_REMEMBER_SINCE")  # CI: only what this run measured
    if kept is not None and since and kept.get("at", 0) < float(since):
        kept = None
    return path, full_key, kept


def _keep(path, full_key: dict, rows) -> None:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{os.getpid()}.{time.monotonic_ns()}.tmp")
    staging.write_text(json.dumps({"key": full_key, "when": when, "at": time.time(), "rows": rows},
                                  indent=1, default=str))
    staging.replace(path)  # whole or not at all, also with two runs at once


def remembered(label: str, key: dict, measure, *, fresh: bool = False) -> tuple[list, str]:
    """``(rows, when)``: ``measure()``'s rows for ``key`` on this machine, measured now or before.

    ``when`` says which: ``"now"``, or the date and time they were measured (UTC). The rows must be
    JSON: lists and dicts of numbers, strings, booleans and None.
    """
    path, full_key, kept = _kept(label, key)
    if kept is not None and not fresh:
        return kept["rows"], kept["when"]
    rows = measure()
    _keep(path, full_key, rows)
    return rows, "now"


async def remembered_async(label: str, key: dict, measure, *, fresh: bool = False) -> tuple[list, str]:
    """``remembered`` for a measurement that is a coroutine function (``await measure()``): what a
    notebook cell that awaits its load tests calls, ``await remembered_async(...)``."""
    path, full_key, kept = _kept(label, key)
    if kept is not None and not fresh:
        return kept["rows"], kept["when"]
    rows = await measure()
    _keep(path, full_key, rows)
    return rows, "now"
