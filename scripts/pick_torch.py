"""Where ``scripts/setup.sh`` takes PyTorch 2.13.0 from, on this machine (standard library only: it
runs before any environment exists).

The course pins ``torch==2.13.0``. The public package index (PyPI) has that version for Linux
x86_64 and aarch64 (CUDA builds that pull ``nvidia-*`` and ``cuda-toolkit`` packages: several GB),
macOS 14+ on Apple silicon, and Windows; not for Intel Macs nor macOS 13 and older (measured with
``uv pip compile`` for each platform, 2026-12-03). A laptop without an NVIDIA GPU gets the CPU build
from PyTorch's own index instead: same version, a few hundred MB.

    python3 scripts/pick_torch.py        prints one line: SOURCE [DETAIL]

SOURCE is ``local`` (a ``torch-2.13.0`` wheel in one of pip's find-links folders, as the course's
machines have; DETAIL is the folder), ``cpu`` (PyTorch's CPU index), ``cuda`` (the index's default
CUDA build, for an NVIDIA GPU), ``pypi`` (the index's only build: macOS, Windows) or
``unsupported`` (DETAIL says why and what to do). ``COURSE_TORCH=local|cpu|cuda|pypi`` overrides
the choice.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys

VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CHOICES = ("local", "cpu", "cuda", "pypi")


def _has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _pip_find_links() -> list[str]:
    """The find-links folders pip is configured with (where this course's machines keep wheels)."""
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    folders = []
    for line in out.splitlines():
        if ".find-links=" in line:
            value = line.split("=", 1)[1].strip().strip("'\"")
            folders += [v for v in value.split() if v]
    return folders


def choose(system: str, machine: str, mac_version: str, nvidia: bool, find_links: list[str],
           override: str = "") -> tuple[str, str]:
    """(source, detail) for a machine described by its parts (see the module docstring)."""
    if override:
        if override not in CHOICES:
            return "unsupported", f"COURSE_TORCH={override!r}: use one of {', '.join(CHOICES)}"
        return override, ""
    for folder in find_links:
        folder = folder.removeprefix("file://")
        if glob.glob(os.path.join(folder, f"torch-{VERSION}*-cp{sys.version_info.major}"
                                          f"{sys.version_info.minor}-*.whl")):
            return "local", folder
    if system == "Linux":
        return ("cuda", "an NVIDIA GPU was found") if nvidia else ("cpu", CPU_INDEX)
    if system == "Darwin":
        major = int((mac_version or "0").split(".")[0] or 0)
        if machine != "arm64":
            return "unsupported", (f"PyTorch {VERSION} has no build for Intel Macs: open the lessons "
                                   "in Colab (each notebook's badge), or use Linux or WSL")
        if major < 14:
            return "unsupported", (f"PyTorch {VERSION} needs macOS 14 or newer on Apple silicon (this "
                                   f"is {mac_version}): update macOS, or open the lessons in Colab")
        return "pypi", "macOS on Apple silicon"
    if system == "Windows":
        return "unsupported", "run the scripts in WSL (Windows Subsystem for Linux), or use Colab"
    return "unsupported", f"no PyTorch {VERSION} build is known for {system} {machine}: use Colab"


def main() -> int:
    source, detail = choose(platform.system(), platform.machine(), platform.mac_ver()[0],
                            _has_nvidia_gpu() if platform.system() == "Linux" else False,
                            _pip_find_links(), os.environ.get("COURSE_TORCH", ""))
    print(f"{source} {detail}".strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
