#!/usr/bin/env bash
# Set everything up (quick when already done), then run the tests offline.
#
#   bash scripts/test.sh               everything (what CI runs): lint; unit tests; build sync and
#                                      skeleton checks; every lesson's exercise tests; every lesson
#                                      notebook through the grader (solutions: every cell, full
#                                      marks; blank notebooks and broken submissions: one batch)
#   bash scripts/test.sh --quick       the edit loop: the same without running any lesson notebook
#   bash scripts/test.sh --lesson 04   one lesson: its exercise tests, skeleton and sync checks,
#                                      its solutions run and its blank notebook graded
#
# Further arguments go to pytest (e.g. -x, -k name). The run ends with each notebook's time.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
lesson=
case "${1:-}" in
  --quick) mode=quick; shift ;;
  --lesson)
    lesson=${2:-}
    if [ -z "$lesson" ] || ! compgen -G "notebooks/masters/${lesson}*.ipynb" > /dev/null; then
      echo "error: --lesson needs a lesson number or name with a master notebook, e.g. --lesson 04" \
        "(there are: $(cd notebooks/masters && ls -- *.ipynb | sed 's/\.ipynb$//' | tr '\n' ' '))" >&2
      exit 2
    fi
    mode=lesson; shift 2 ;;
esac

bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
start=$(date +%s)

# Every step runs even if an earlier one failed; the exit status is the first failure's (pytest's
# 5, "no tests collected", counts as a failure).
status=0
step() { "$@" || { local s=$?; [ "$status" -ne 0 ] || status=$s; }; }

echo "==> ruff (package, tests, notebooks)"
step .venv/bin/ruff check course_utils tests notebooks conftest.py

# One process: parallel workers (pytest-xdist) were measured slower here, not faster: each worker's
# PyTorch threads and each notebook's kernel compete for the 2 cores (a solutions notebook took
# 15 minutes instead of one).
pytest=(.venv/bin/python -m pytest --durations=15)
case $mode in
  quick)
    echo "==> pytest: everything but the lesson notebooks (-m 'not notebook')"
    step "${pytest[@]}" tests -m "not notebook" "$@" ;;
  lesson)
    number=${lesson:0:2}
    echo "==> pytest: lesson $lesson (its exercise tests, skeleton and sync, notebooks graded)"
    files=(tests/test_build.py tests/test_lessons.py)
    if compgen -G "tests/test_exercises_${number}.py" > /dev/null; then
      files+=("tests/test_exercises_${number}.py")
    fi
    step env COURSE_TEST_LESSONS="$lesson" "${pytest[@]}" "${files[@]}" "$@" ;;
  full)
    echo "==> pytest: everything but the lesson notebooks"
    step "${pytest[@]}" tests -m "not notebook" "$@"
    echo "==> pytest: the lesson notebooks, through the grader"
    step "${pytest[@]}" tests -m notebook "$@" ;;
esac
echo "==> tests took $(( $(date +%s) - start )) s (set-up not included), exit status $status"
exit "$status"
