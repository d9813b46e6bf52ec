#!/usr/bin/env bash
# Set everything up (quick when already done), then open the course in JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h|--help)
    cat <<'HELP'
Usage: bash scripts/lab.sh [JUPYTERLAB OPTIONS]

Sets the course up (the first time: a virtual environment in .venv, the pinned packages and the
course model, a few minutes; afterwards a few seconds), then opens JupyterLab on the notebooks
folder. Lesson 01 is notebooks/01_pipeline_basics.ipynb.

Options are passed to JupyterLab, for example:
  bash scripts/lab.sh --port 8890          another port (the default is 8888, or the next free one)
  bash scripts/lab.sh --no-browser         print the address instead of opening a browser
  bash scripts/lab.sh --ip 0.0.0.0         listen beyond this machine (a remote server, a container)

Environment:
  COURSE_MODEL=<hub id or folder>          another model (default: the embedded SmolLM2-135M-Instruct)
  SKIP_OPENVINO=1 / SKIP_VLLM=1            skip the environments of lessons 06 / 07 (see bash scripts/setup.sh --help)
  COURSE_CACHE=<folder>                    where the converted model is kept (default ~/.cache/llm-inference-course)
HELP
    exit 0 ;;
esac

bash scripts/setup.sh
unset PYTHONDONTWRITEBYTECODE  # each module compiled once, at its first import (scripts/setup.sh)
# No model hub is needed: the embedded model is used unless COURSE_MODEL says otherwise.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
# JupyterLab asks on first start whether to fetch news and check for updates from the internet:
# the course works offline, so neither is fetched and nothing asks.
extra=(--LabApp.news_url=None
       --LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate)
# Containers often run as root, which JupyterLab refuses unless told.
if [ "$(id -u)" = "0" ]; then extra+=(--allow-root); fi
exec .venv/bin/jupyter lab --notebook-dir=notebooks "${extra[@]}" "$@"
