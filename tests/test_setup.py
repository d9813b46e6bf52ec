"""The set-up scripts: where PyTorch comes from on each platform, and the commands that answer
without installing anything (``--help``, ``--plan``)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("pick_torch", ROOT / "scripts" / "pick_torch.py")
pick_torch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pick_torch)


@pytest.fixture
def wheel_folder(tmp_path):
    import sys

    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    (tmp_path / f"torch-2.13.0+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("system, machine, mac, nvidia, expected", [
    ("Linux", "x86_64", "", False, "cpu"),  # an ordinary laptop: not PyPI's CUDA build
    ("Linux", "aarch64", "", False, "cpu"),
    ("Linux", "x86_64", "", True, "cuda"),
    ("Darwin", "arm64", "14.5", False, "pypi"),
    ("Darwin", "arm64", "13.6", False, "unsupported"),
    ("Darwin", "x86_64", "14.5", False, "unsupported"),  # Intel Macs: no torch 2.13.0
    ("Windows", "AMD64", "", False, "unsupported"),  # the scripts are bash: WSL
])
def test_where_torch_comes_from(system, machine, mac, nvidia, expected):
    source, detail = pick_torch.choose(system, machine, mac, nvidia, find_links=[])
    assert source == expected, (source, detail)
    if source == "unsupported":
        assert "Colab" in detail or "WSL" in detail, detail


def test_a_local_wheel_wins_where_there_is_one(wheel_folder):
    chosen = pick_torch.choose("Linux", "x86_64", "", False, [str(wheel_folder)])
    assert chosen == ("local", str(wheel_folder))
    assert pick_torch.choose("Linux", "x86_64", "", False, [f"file://{wheel_folder}"])[0] == "local"
    other = wheel_folder / "elsewhere"
    other.mkdir()
    assert pick_torch.choose("Linux", "x86_64", "", False, [str(other)])[0] == "cpu"


def test_the_choice_can_be_forced():
    assert pick_torch.choose("Darwin", "x86_64", "12.0", False, [], override="cpu") == ("cpu", "")
    source, detail = pick_torch.choose("Linux", "x86_64", "", False, [], override="rocm")
    assert source == "unsupported" and "COURSE_TORCH" in detail


def test_this_machine_uses_its_local_wheel():
    done = subprocess.run(["bash", "scripts/setup.sh", "--plan"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "torch:" in done.stdout and "vllm:" in done.stdout and "model:" in done.stdout, done.stdout


@pytest.mark.parametrize("script", ["setup.sh", "lab.sh"])
def test_help_answers_without_setting_anything_up(script, tmp_path):
    """``--help`` prints and exits before any install: it works in a copy with no environment."""
    for name in ("setup.sh", "lab.sh", "pick_torch.py"):
        (tmp_path / "scripts").mkdir(exist_ok=True)
        (tmp_path / "scripts" / name).write_text((ROOT / "scripts" / name).read_text())
    done = subprocess.run(["bash", f"scripts/{script}", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("Usage: bash scripts/"), done.stderr
    assert not (tmp_path / ".venv").exists(), "--help created an environment"
    if script == "lab.sh":
        assert "--port" in done.stdout and "--no-browser" in done.stdout


def test_an_unknown_option_is_refused(tmp_path):
    done = subprocess.run(["bash", "scripts/setup.sh", "--bogus"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "--help" in done.stderr
