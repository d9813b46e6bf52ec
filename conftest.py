"""Test-wide settings: offline, and a closing report of how long each notebook took to run."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_notebook_seconds: dict[str, float] = {}


@pytest.fixture(scope="session")
def notebook_seconds() -> dict[str, float]:
    """Tests that run a notebook record its seconds here (``tests/test_lessons.py``)."""
    return _notebook_seconds


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook run times")
    for name, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(
        f"{sum(_notebook_seconds.values()):7.1f} s  all {len(_notebook_seconds)} runs "
        "(blank notebooks were graded two at a time: their sum exceeds the wall time)")
