#!/usr/bin/env bash
# Set everything up (quick when already done), then open the course in JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# No model hub is needed: the embedded model is used unless COURSE_MODEL says otherwise.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
extra=()
# Containers often run as root, which JupyterLab refuses unless told.
if [ "$(id -u)" = "0" ]; then extra+=(--allow-root); fi
exec .venv/bin/jupyter lab --notebook-dir=notebooks "${extra[@]}" "$@"
