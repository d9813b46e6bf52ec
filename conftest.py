"""Test-wide settings: offline, and closing reports: how long each notebook took to run, and which
tests and test files used the most CPU (what decides the suite's time on a busy 2-core machine,
where a test's wall time mostly says what else was running)."""

import os
import resource
from collections import defaultdict

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_notebook_seconds: dict[str, float] = {}


@pytest.fixture(scope="session")
def notebook_seconds() -> dict[str, float]:
    """Tests that run a notebook record its seconds here (``tests/test_lessons.py``)."""
    return _notebook_seconds


_cpu_seconds: dict[str, float] = {}


def _cpu_now() -> float:
    """CPU seconds of this process (every thread) and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test's CPU seconds, set-up and tear-down included (a module fixture counts for its first test)."""
    start = _cpu_now()
    yield
    _cpu_seconds[item.nodeid] = _cpu_now() - start


def pytest_terminal_summary(terminalreporter):
    _cpu_report(terminalreporter)
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook run times")
    for name, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(
        f"{sum(_notebook_seconds.values()):7.1f} s  all {len(_notebook_seconds)} runs "
        "(blank notebooks were graded two at a time: their sum exceeds the wall time)")


def _cpu_report(terminalreporter, top: int = 12) -> None:
    if os.environ.get("COURSE_CPU_JSON"):  # every test's CPU seconds, for finding what to make cheaper
        import json

        with open(os.environ["COURSE_CPU_JSON"], "w") as out:
            json.dump(_cpu_seconds, out, indent=0)
    if len(_cpu_seconds) < 2:
        return
    by_file: dict[str, float] = defaultdict(float)
    for nodeid, seconds in _cpu_seconds.items():
        by_file[nodeid.split("::")[0]] += seconds
    terminalreporter.section("CPU seconds (this process and the processes it waited for)")
    for name, seconds in sorted(by_file.items(), key=lambda kv: -kv[1])[:top]:
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    total = sum(by_file.values())
    terminalreporter.write_line(f"{total:7.1f} s  all {len(_cpu_seconds)} tests; the heaviest:")
    for nodeid, seconds in sorted(_cpu_seconds.items(), key=lambda kv: -kv[1])[:top]:
        terminalreporter.write_line(f"{seconds:7.1f} s  {nodeid}")
