#!/usr/bin/env bash
# Set everything up (quick when already done), then run the tests offline.
#
#   bash scripts/test.sh               everything (what CI runs): lint; unit tests; build sync and
#                                      skeleton checks; every lesson's exercise tests; every notebook,
#                                      solutions (hidden checks too) and student, end to end under
#                                      pytest --nbmake; lessons 01 and 07 blank, a wrong answer and
#                                      broken submissions graded into one CSV; the course site
#                                      built from the executed notebooks and checked in Chromium
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
[ "$mode" = lesson ] || bash scripts/site.sh --prepare  # the site's packages, MathJax, Chromium
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
unset PYTHONDONTWRITEBYTECODE  # each module compiled once, at its first import (scripts/setup.sh)
start=$(date +%s)
# The notebooks' kept measurements (course_utils/bench/remember.py) count from this run on: what an
# earlier run left on the machine is measured again, once (the student notebook reuses it).
export COURSE_REMEMBER_SINCE=${COURSE_REMEMBER_SINCE:-$start}

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
# they fail). Arguments: notebooks, or folders of them (taken in order).
nbmake() {
  local files=() arg
  for arg in "$@"; do
    if [ -d "$arg" ]; then mapfile -t -O "${#files[@]}" files < <(ls "$arg"/*.ipynb | sort)
    else files+=("$arg"); fi
  done
  # (without MPLBACKEND=Agg: the kernels draw their plots inline, into the outputs the site shows)
  env -u MPLBACKEND "${pytest[@]}" -p no:cacheprovider --nbmake --overwrite --nbmake-timeout=900 "${files[@]}"
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
    # Jobs side by side, COURSE_TEST_LANES at a time (default 5), one compute thread each (unless
    # you set OMP_NUM_THREADS); much of a job's time is waiting (servers, timeouts, kernels
    # starting), so together they take far less than in turn. A lesson is one job: its solutions notebook runs
    # first, every public and hidden check raising when it fails (so the grader need not run it a
    # second time), then its student notebook, which finds the solutions run's kept measurements
    # and exports. vLLM runs once, in lesson 07's solutions notebook; the student notebook, made
    # from the same master, takes its path for a machine without vLLM (COURSE_VLLM_OFF=1). The
    # grader grades two blank notebooks, a wrong answer and broken submissions into one CSV. The
    # last job builds the course site from the executed student notebooks and checks it.
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
    mapfile -t lessons < <(lesson_selection | sort -r)  # the later lessons take longest: first
    copy_notebooks student "${lessons[@]}"; copy_notebooks solutions "${lessons[@]}"
    logs=$(mktemp -d "${TMPDIR:-/tmp}/course-test-XXXXXX")
    server_tests=(tests/test_server_*.py) exercise_tests=(tests/test_exercises_*.py)
    # The exercise tests in four jobs: most of their time is waiting (fake servers, timeouts: in
    # CI run 16, 1,492 s of wall time for 422 CPU seconds in three jobs), so more jobs side by side
    # shorten the run; a lesson without a job of its own lands in the last one.
    exercises_a=(tests/test_exercises_0[17].py) exercises_b=(tests/test_exercises_0[28].py)
    exercises_d=(tests/test_exercises_04.py)
    exercises_c=(); for f in "${exercise_tests[@]}"; do
      [[ " ${exercises_a[*]} ${exercises_b[*]} ${exercises_d[*]} " == *" $f "* ]] || exercises_c+=("$f"); done
    run_job() {
      case $1 in
        unit-server) "${pytest[@]}" "${server_tests[@]}" -m "not notebook" ;;
        unit-exercises-a) "${pytest[@]}" "${exercises_a[@]}" -m "not notebook" ;;
        unit-exercises-b) "${pytest[@]}" "${exercises_b[@]}" -m "not notebook" ;;
        unit-exercises-c) "${pytest[@]}" "${exercises_c[@]}" -m "not notebook" ;;
        unit-exercises-d) "${pytest[@]}" "${exercises_d[@]}" -m "not notebook" ;;
        unit-rest) "${pytest[@]}" tests -m "not notebook" "${server_tests[@]/#/--ignore=}" \
                     "${exercise_tests[@]/#/--ignore=}" ;;
        site)  # the course site, from the student notebooks the lesson jobs executed
          local done_lesson
          for done_lesson in "${lessons[@]}"; do
            while [ ! -f "$logs/$done_lesson.rc" ]; do sleep 5; done
          done
          bash scripts/site.sh ;;
        # The grader grades lesson 01's and 07's blank notebooks and the broken submissions (made
        # from lesson 01) into one CSV. The other blank notebooks are not graded here: their student
        # notebooks have just run every cell under nbmake, the build refuses an untagged cell that
        # reads what only a skipped cell defines, and every check is tried unanswered in the
        # exercise tests; grading them again cost about 100 CPU seconds. `--lesson NN` grades its own.
        grading) COURSE_TEST_LESSONS=01,07 "${pytest[@]}" tests/test_lessons.py -m notebook \
                   -k "not test_solutions_score_full_marks" ;;
        *)
          local first=0
          COURSE_HIDDEN_CHECKS=1 COURSE_STRICT_CHECKS=1 nbmake "$EXECUTED/solutions/$1"*.ipynb || first=$?
          COURSE_VLLM_OFF=1 nbmake "$EXECUTED/student/$1"*.ipynb || { [ "$first" -ne 0 ] || first=$?; }
          return "$first" ;;
      esac
    }
    # the longest first (measured: lesson 07, the exercise tests, the other unit tests, lesson 06)
    mapfile -t lessons < <(printf '%s\n' "${lessons[@]}" | grep '^07'; printf '%s\n' "${lessons[@]}" | grep '^06';
                           printf '%s\n' "${lessons[@]}" | grep -v '^0[67]')
    jobs_list=("${lessons[0]}" unit-exercises-b unit-exercises-c unit-exercises-a unit-exercises-d unit-rest
               "${lessons[1]}" unit-server grading "${lessons[@]:2}" site)
    lanes=${COURSE_TEST_LANES:-5}
    echo "==> ${#jobs_list[@]} jobs, $lanes at a time: ${jobs_list[*]} (logs: $logs)"
    for job in "${jobs_list[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$lanes" ]; do wait -n || true; done
      ( begun=$(date +%s); run_job "$job" > "$logs/$job.log" 2>&1 && rc=0 || rc=$?
        echo "$rc $(( $(date +%s) - begun ))" > "$logs/$job.rc"
        # CPU seconds of the job's processes (user + system, as `times` reports its children)
        times > "$logs/$job.times"  # here, not in $(...): a subshell would report its own children
        cpu=$(tail -1 "$logs/$job.times" | awk '{gsub(/[ms]/, " "); print int($1 * 60 + $2 + $3 * 60 + $4)}')
        echo "    $job: exit $rc after $(( $(date +%s) - begun )) s, ${cpu} CPU s (at $(( $(date +%s) - start )) s)" ) &
    done
    trap 'kill $(jobs -p) 2> /dev/null || true' EXIT  # stopped with the run
    wait
    for job in "${jobs_list[@]}"; do
      read -r rc seconds < "$logs/$job.rc" || { rc=1; seconds=?; }
      echo "==> $job: exit $rc, $seconds s"
      cat "$logs/$job.log"
      [ "$rc" -eq 0 ] || [ "$status" -ne 0 ] || status=$rc
    done
    rm -rf "$logs" ;;
esac
echo "==> tests took $(( $(date +%s) - start )) s (set-up not included), exit status $status"
exit "$status"
