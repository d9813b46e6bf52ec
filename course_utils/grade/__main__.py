"""``python -m course_utils.grade PATH [PATH ...] [--csv grades.csv]``: grade submitted notebooks.

PATH: a notebook, several, or a folder (every ``*.ipynb`` under it, ``.ipynb_checkpoints``
skipped). One submission: its full report (every failed check's message, hidden ones included),
ending ``score: X/Y``. Several: a progress bar, one line each, and a summary. Exit status 0 when
grading ran, whatever the scores or the submissions' problems (each row's status says them); 2 for
a usage error (no such path, nothing to grade, unknown ``--lesson``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..exercises import lesson_names
from .batch import find_submissions, grade_many, summary, write_csv
from .runner import DEFAULT_CELL_TIMEOUT, DEFAULT_TIMEOUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Execute submitted lesson notebooks in fresh kernels and grade their "
        "exercises with the lesson's public and hidden tests.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .ipynb file or a folder of them")
    parser.add_argument("--csv", metavar="FILE", help="write one row per submission to FILE")
    parser.add_argument("--lesson", help=f"grade every submission as this lesson (default: each "
                        f"notebook's metadata or file name; one of: {', '.join(lesson_names())})")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of cores, %(default)s)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds for a whole submission (default %(default)g)")
    parser.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT,
                        help="seconds for one cell or one question's tests (default %(default)g)")
    parser.add_argument("--all-cells", action="store_true",
                        help="also run the cells tagged otter_ignore (heavy demonstrations)")
    parser.add_argument("--reports", metavar="FOLDER",
                        help="write each submission's full report to FOLDER/<name>.txt")
    parser.add_argument("--timings", action="store_true",
                        help="also print each submission's slowest cells (where grading time goes)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.lesson and args.lesson not in lesson_names():
        parser.error(f"unknown lesson {args.lesson!r}; one of: {', '.join(lesson_names())}")
    if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0:
        parser.error("--jobs, --timeout and --cell-timeout must be positive")
    try:
        paths = find_submissions(args.paths)
    except FileNotFoundError as err:
        print(f"error: {err}. Give .ipynb files or folders that hold them.", file=sys.stderr)
        return 2
    if not paths:
        print(f"error: no .ipynb files under {' '.join(args.paths)}", file=sys.stderr)
        return 2
    start = time.monotonic()
    results = _grade(paths, args)
    if len(results) == 1:
        print(results[0].report())
        print(f"(graded in {results[0].seconds:.0f} s)")
    if args.timings:
        for result in results:
            print(f"slowest cells of {result.file} ({result.seconds:.0f} s in all):")
            print("\n".join(result.slowest()))
    else:
        print(summary(results, time.monotonic() - start))
    if args.csv:
        write_csv(results, args.csv)
        print(f"wrote {args.csv}")
    if args.reports:
        _write_reports(results, paths, Path(args.reports))
    return 0


def _grade(paths: list[Path], args):
    from tqdm.auto import tqdm

    single = len(paths) == 1
    bar = tqdm(total=len(paths), unit="submission", disable=args.quiet or single, file=sys.stderr)

    def done(result) -> None:
        if not single:
            bar.write(result.line())
        bar.update(1)

    try:
        return grade_many(paths, args.lesson, jobs=args.jobs, run_all=args.all_cells,
                          timeout=args.timeout, cell_timeout=args.cell_timeout, on_result=done)
    finally:
        bar.close()


def _write_reports(results, paths: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stems = [p.stem for p in paths]
    for result, path in zip(results, paths):
        name = path.stem if stems.count(path.stem) == 1 else "_".join(path.with_suffix("").parts)
        (folder / f"{name}.txt").write_text(result.report() + "\n", encoding="utf-8")
    print(f"wrote {len(results)} report(s) to {folder}")


if __name__ == "__main__":
    raise SystemExit(main())
