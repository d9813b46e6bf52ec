#!/usr/bin/env bash
# Set everything up (quick when already done), then run the tests offline.
#
#   bash scripts/test.sh               everything (what CI runs): lint; unit tests; build sync and
#                                      skeleton checks; every lesson's exercise tests; every lesson
#                                      notebook through the grader (solutions: every cell, full
#                                      marks; blank notebooks and broken submissions: one batch),
#                                      the notebooks beside the rest (~10 min after set-up)
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

# No pytest-xdist: its workers were measured slower here, not faster (each worker's PyTorch
# threads and each notebook's kernel spin-waited against the others on the 2 cores: a solutions
# notebook took 15 minutes instead of one). The full run overlaps its two halves instead (below).
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
    # The two halves run side by side: both spend much of their time waiting (servers, timeouts,
    # kernels starting), so together they take far less than one after the other. Each process
    # gets one compute thread (unless you set OMP_NUM_THREADS): two PyTorch processes with a
    # thread per core each spin-wait against each other.
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
    notebooks_log=$(mktemp "${TMPDIR:-/tmp}/course-notebooks-XXXXXX.log")
    echo "==> pytest: the lesson notebooks, through the grader (in the background: $notebooks_log)"
    "${pytest[@]}" tests -m notebook "$@" > "$notebooks_log" 2>&1 &
    notebooks_pid=$!
    trap 'kill "$notebooks_pid" 2> /dev/null || true' EXIT  # stopped with the run (e.g. Ctrl-C)
    echo "==> pytest: everything but the lesson notebooks"
    step "${pytest[@]}" tests -m "not notebook" "$@"
    echo "==> pytest: the lesson notebooks (waiting for them to finish)"
    step wait "$notebooks_pid"
    cat "$notebooks_log" && rm -f "$notebooks_log" ;;
esac
echo "==> tests took $(( $(date +%s) - start )) s (set-up not included), exit status $status"
exit "$status"
