#!/usr/bin/env bash
# Set everything up (quick when already done), then run the tests offline.
#
#   bash scripts/test.sh               everything (what CI runs): lint; unit tests; build sync and
#                                      skeleton checks; every lesson's exercise tests; every notebook,
#                                      student and solutions, end to end under pytest --nbmake; the
#                                      solutions graded (full marks), the blank notebooks and broken
#                                      submissions graded into one CSV
#   bash scripts/test.sh --quick       the edit loop: the same without running any lesson notebook
#   bash scripts/test.sh --lesson 04   one lesson: its exercise tests, skeleton and sync checks,
#                                      its student and solutions notebooks under nbmake, graded
#
# Further arguments go to pytest (e.g. -x, -k name). The executed notebooks are kept in
# build/executed/ (with their outputs: what the course site is built from).
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
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
start=$(date +%s)

# Every step runs even if an earlier one failed; the exit status is the first failure's (pytest's
# 5, "no tests collected", counts as a failure).
status=0
step() { "$@" || { local s=$?; [ "$status" -ne 0 ] || status=$s; }; }

echo "==> ruff (package, tests, notebooks)"
step .venv/bin/ruff check course_utils tests notebooks conftest.py

# No pytest-xdist: its workers were measured slower here, not faster (each worker's PyTorch
# threads and each notebook's kernel spin-waited against the others on the 2 cores: a solutions
# notebook took 15 minutes instead of one). The full run overlaps lanes of one thread each instead.
pytest=(.venv/bin/python -m pytest --durations=15)
EXECUTED=build/executed

# Copies of the notebooks, executed in place by nbmake (--overwrite keeps their outputs).
# $1: student or solutions; the rest: lesson names or number prefixes (default: every lesson).
copy_notebooks() {
  local kind=$1 folder=notebooks name
  shift
  [ "$kind" = "solutions" ] && folder=notebooks/solutions
  rm -rf "${EXECUTED:?}/$kind" && mkdir -p "$EXECUTED/$kind"
  for name in "${@:-}"; do
    cp "$folder/${name}"*.ipynb "$EXECUTED/$kind/"
  done
}
# nbmake, each notebook end to end (a cell that raises fails it; the solutions' checks raise when
# they fail). $1: the folder; $2: "reverse" to take the lessons from the last one, so that two
# lanes do not run the same lesson (its servers, its exports) at the same time.
nbmake() {
  local files
  if [ "${2:-}" = "reverse" ]; then mapfile -t files < <(ls "$1"/*.ipynb | sort -r)
  else mapfile -t files < <(ls "$1"/*.ipynb | sort); fi
  "${pytest[@]}" -p no:cacheprovider --nbmake --overwrite --nbmake-timeout=900 "${files[@]}"
}
solutions_then_grading() {  # both run; the status is the first failure's
  local first=0
  nbmake "$EXECUTED/solutions" reverse || first=$?
  "${pytest[@]}" tests -m notebook "$@" || { local s=$?; [ "$first" -ne 0 ] || first=$s; }
  return "$first"
}
lesson_selection() {  # lesson names for COURSE_TEST_LESSONS, or every master
  if [ -n "$lesson" ]; then echo "$lesson"; else (cd notebooks/masters && ls -- *.ipynb | cut -c1-2); fi
}

case $mode in
  quick)
    echo "==> pytest: everything but the lesson notebooks (-m 'not notebook')"
    step "${pytest[@]}" tests -m "not notebook" "$@" ;;
  lesson)
    number=${lesson:0:2}
    echo "==> pytest: lesson $lesson (its exercise tests, skeleton and sync)"
    files=(tests/test_build.py tests/test_predictions.py)
    if compgen -G "tests/test_exercises_${number}.py" > /dev/null; then
      files+=("tests/test_exercises_${number}.py")
    fi
    step "${pytest[@]}" "${files[@]}" -m "not notebook" "$@"
    echo "==> nbmake: lesson $lesson, student and solutions notebooks, every cell"
    copy_notebooks student "$number"; copy_notebooks solutions "$number"
    step nbmake "$EXECUTED/student"
    step nbmake "$EXECUTED/solutions"
    echo "==> pytest: lesson $lesson graded (solutions full marks, blank 0)"
    step env COURSE_TEST_LESSONS="$lesson" "${pytest[@]}" tests/test_lessons.py "$@" ;;
  full)
    # Three lanes side by side, one compute thread each (unless you set OMP_NUM_THREADS): the
    # tests in the foreground; in the background, the student notebooks (then the course site,
    # built from them) and the solutions notebooks (then the grading). Much of each lane's time is
    # waiting (servers, timeouts, kernels starting), so together they take far less than in turn.
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
    mapfile -t lessons < <(lesson_selection)
    copy_notebooks student "${lessons[@]}"; copy_notebooks solutions "${lessons[@]}"
    student_log=$(mktemp "${TMPDIR:-/tmp}/course-students-XXXXXX.log")
    solutions_log=$(mktemp "${TMPDIR:-/tmp}/course-solutions-XXXXXX.log")
    echo "==> nbmake: the student notebooks, every cell (in the background: $student_log)"
    nbmake "$EXECUTED/student" > "$student_log" 2>&1 &
    student_pid=$!
    echo "==> nbmake: the solutions notebooks, every cell, then the grading (in the background: $solutions_log)"
    solutions_then_grading "$@" > "$solutions_log" 2>&1 &
    solutions_pid=$!
    trap 'kill "$student_pid" "$solutions_pid" 2> /dev/null || true' EXIT  # stopped with the run
    echo "==> pytest: everything but the lesson notebooks"
    step "${pytest[@]}" tests -m "not notebook" "$@"
    echo "==> the student notebooks (waiting for them to finish)"
    step wait "$student_pid"
    cat "$student_log" && rm -f "$student_log"
    echo "==> the solutions notebooks and the grading (waiting for them to finish)"
    step wait "$solutions_pid"
    cat "$solutions_log" && rm -f "$solutions_log" ;;
esac
echo "==> tests took $(( $(date +%s) - start )) s (set-up not included), exit status $status"
exit "$status"
