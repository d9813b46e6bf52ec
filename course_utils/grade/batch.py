"""Grading many submissions: find them, grade them in parallel, write one CSV row each."""

from __future__ import annotations

import contextlib

import csv
import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ..exercises import CHECKS_DIR, lesson_names
from .runner import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_TIMEOUT,
    LessonTests,
    SubmissionResult,
    UnknownLesson,
    grade_notebook,
    lesson_of,
)


def find_submissions(paths: Iterable[str | Path]) -> list[Path]:
    """The files to grade: each file as given, and every ``*.ipynb`` under each folder
    (recursively, skipping ``.ipynb_checkpoints``), in a stable order. A path that does not
    exist raises ``FileNotFoundError`` (a usage error, not a submission's)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb")
                            if ".ipynb_checkpoints" not in p.parts and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return list(dict.fromkeys(found))


def _lesson_for(path: Path, lesson: str | None, known: list[str]) -> str | None:
    if lesson:
        return lesson
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        nb = None  # the grader reports why it is not a notebook
    try:
        return lesson_of(path, nb if isinstance(nb, dict) else None, known)
    except UnknownLesson:
        return None


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _cores_shared_by(jobs: int):
    """Kernels started meanwhile use ``cores // jobs`` threads each, unless the caller set it.

    PyTorch starts one compute thread per core in every kernel; several kernels on the same cores
    then spin-wait against each other. Measured: a blank lesson 01 graded beside a submission
    whose answer loops forever took 133 s, two of its
    cells stopped at the 40 s cell limit (its solutions, every cell, take 49 s alone).
    """
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def grade_many(paths: list[Path], lesson: str | None = None, *, jobs: int | None = None,
               run_all: bool = False, timeout: float = DEFAULT_TIMEOUT,
               cell_timeout: float = DEFAULT_CELL_TIMEOUT, labels: dict[Path, str] | None = None,
               checks_dir: str | Path = CHECKS_DIR,
               on_result: Callable[[SubmissionResult], None] | None = None) -> list[SubmissionResult]:
    """Grade ``paths`` with ``jobs`` kernels at once (default: the number of cores); results in
    the order of ``paths``. Each lesson's tests are read once, before the first submission runs.
    ``on_result`` is called as each submission finishes (the CLI's progress bar); ``checks_dir``:
    where the lessons' tests are (tests use a made-up lesson)."""
    known = lesson_names() if Path(checks_dir) == CHECKS_DIR else sorted(
        p.name for p in Path(checks_dir).iterdir() if (p / "autograder").is_dir())
    lessons = {path: _lesson_for(path, lesson, known) for path in paths}
    tests = {}
    for name in sorted({name for name in lessons.values() if name}):
        try:
            tests[name] = LessonTests.load(name, checks_dir)
        except UnknownLesson:
            pass  # grade_notebook reports it on each submission of that lesson
    labels = labels or {}
    kwargs = dict(run_all=run_all, timeout=timeout, cell_timeout=cell_timeout)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths) or 1))

    def submit(run, path, **more):
        return run(grade_notebook, path, lessons[path] or lesson, tests=tests.get(lessons[path]),
                   label=labels.get(path, str(path)), **kwargs, **more)

    results: dict[Path, SubmissionResult] = {}
    if jobs == 1:
        for path in paths:
            results[path] = submit(lambda fn, *a, **k: fn(*a, **k), path)
            if on_result:
                on_result(results[path])
        return [results[p] for p in paths]
    # Threads are enough: the work happens in the kernels (processes of their own); each thread's
    # nbclient runs its own event loop and ZeroMQ context.
    with _cores_shared_by(jobs), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {submit(pool.submit, path, restore_tests=False): path for path in paths}
        for future in as_completed(futures):
            path = futures[future]
            results[path] = future.result()
            if on_result and not results[path].tampered:
                on_result(results[path])
    # Test files edited on disk while several submissions ran: which one did it? Put the files
    # back, then grade the suspects again one at a time (rare; it keeps innocent statuses clean).
    suspects = [p for p in paths if results[p].tampered]
    for name in {results[p].lesson for p in suspects}:
        tests[name].restore(tests[name].changed_on_disk())
    for path in suspects:
        results[path] = submit(lambda fn, *a, **k: fn(*a, **k), path)
        if on_result:
            on_result(results[path])
    return [results[p] for p in paths]


def question_columns(results: list[SubmissionResult]) -> list[tuple[str, str]]:
    """(lesson, question) for each CSV column, in lesson order; a question name that two lessons
    share is written ``lesson:question``."""
    pairs = sorted({(r.lesson, q.name) for r in results for q in r.questions if r.lesson})
    names = [q for _, q in pairs]
    return [(lesson, q if names.count(q) == 1 else f"{lesson}:{q}") for lesson, q in pairs]


def write_csv(results: list[SubmissionResult], path: str | Path) -> None:
    """One row per submission: file, lesson, each question's points, total, possible, status,
    notes, seconds. A question that is not in a submission's lesson is left empty."""
    columns = question_columns(results)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "lesson", *[name for _, name in columns],
                         "total", "possible", "status", "notes", "seconds"])
        for r in results:
            scores = {(r.lesson, q.name): q.score for q in r.questions}
            cells = [f"{scores[(lesson, name.split(':')[-1])]:g}"
                     if (lesson, name.split(":")[-1]) in scores else "" for lesson, name in columns]
            writer.writerow([r.file, r.lesson or "", *cells,
                             f"{r.total:g}" if r.questions else "",
                             f"{r.possible:g}" if r.questions else "",
                             r.status, "; ".join(r.notes), f"{r.seconds:.1f}"])


def summary(results: list[SubmissionResult], seconds: float) -> str:
    """The closing line: how many, how long, how many with problems, mean score per lesson."""
    problems = [r for r in results if r.status != "ok"]
    by_lesson: dict[str, list[SubmissionResult]] = {}
    for r in results:
        if r.questions:
            by_lesson.setdefault(r.lesson, []).append(r)
    means = ", ".join(
        f"{lesson} mean {sum(r.total for r in rs) / len(rs):.2g}/{rs[0].possible:g}"
        for lesson, rs in sorted(by_lesson.items()))
    return (f"graded {len(results)} submission(s) in {seconds:.0f} s: {len(results) - len(problems)} "
            f"ok, {len(problems)} with a problem (see status)" + (f"; {means}" if means else ""))
