"""``python -m course_utils.grade PATH.ipynb``: grade a submitted notebook.

Prints each question's result, then a last line ``score: X/Y``. Exit status 0 when grading ran
(whatever the score), 2 when it could not (no such file, unknown lesson).
"""

from __future__ import annotations

import argparse
import sys

from . import grade_notebook, lesson_names, score_lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Execute a submitted lesson notebook and grade its exercises "
        "(public and hidden tests).",
    )
    parser.add_argument("notebook", help="path of the submitted .ipynb")
    parser.add_argument("--lesson", help=f"lesson name, if the notebook's metadata lacks it "
                        f"(one of: {', '.join(lesson_names())})")
    parser.add_argument("--verbose", action="store_true", help="show the notebook's own output")
    args = parser.parse_args(argv)
    try:
        results = grade_notebook(args.notebook, lesson=args.lesson, quiet=not args.verbose)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(score_lines(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
