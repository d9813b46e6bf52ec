#!/usr/bin/env bash
# Set everything up (quick when already done), then run the whole test suite offline:
# lint, unit tests, notebook checks and grading, and every notebook end to end (nbmake).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1

echo "==> ruff (package, tests, notebooks)"
.venv/bin/ruff check course_utils tests notebooks

echo "==> pytest: helpers, notebooks' skeleton and sync, grading, and every notebook (nbmake)"
start=$(date +%s)
.venv/bin/python -m pytest tests notebooks --nbmake --nbmake-timeout=900 \
  --ignore=notebooks/masters --durations=0 "$@"
echo "==> test suite took $(( $(date +%s) - start )) s"
