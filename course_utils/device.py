"""Which device and dtype to run on, and the pipeline keyword arguments for that choice.

``python -m course_utils.device`` prints the choice. The rules:

- device: cuda, then mps, then xpu, else cpu;
- dtype: bfloat16 where the hardware computes it natively (recent GPUs; CPUs with AVX512-BF16 or
  AMX: on the course's 2-core CPU, SmolLM2 batches of 16 generate 1.67x faster than in float32,
  225.6 vs 135.1 tokens/s; one prompt at a time, both run at ~21 tokens/s), float16 on GPUs
  without bf16 (a Colab T4), float32 otherwise.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def pick_device() -> str:
    """``"cuda"``, ``"mps"``, ``"xpu"`` or ``"cpu"``: the best accelerator present."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return "xpu"
    return "cpu"


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU has native bfloat16 instructions (read from /proc/cpuinfo on Linux)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if not path.exists():
            return False
        cpuinfo = path.read_text(errors="ignore")
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def pick_dtype(device: str | None = None) -> torch.dtype:
    """The fastest dtype that keeps SmolLM2's answers sensible on ``device``."""
    device = device or pick_device()
    if device == "cuda":
        # Native bf16 needs compute capability 8.0+ (Ampere). Older GPUs such as Colab's T4 (7.5)
        # report bf16 "supported" through slow emulation, so ask for the capability instead.
        major, _ = torch.cuda.get_device_capability()
        return torch.bfloat16 if major >= 8 else torch.float16
    if device == "xpu":
        return torch.bfloat16
    if device == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def pipeline_kwargs(device: str | None = None, dtype: torch.dtype | None = None,
                    device_map: str | None = None) -> dict:
    """Keyword arguments for ``pipeline()`` / ``from_pretrained``: placement and dtype.

    Gives ``device`` *or* ``device_map`` (``device_map="auto"`` lets accelerate place the weights,
    possibly over several GPUs), never both. transformers itself accepts both: ``pipeline()`` logs
    that "`device` will override `device_map`" and puts the whole model on ``device``
    (``transformers/pipelines/__init__.py``, 5.23; lesson 01 shows it), which silently undoes the
    placement that ``device_map`` asked for. This helper refuses the pair instead, with a message
    that says which one to drop.
    """
    if device is not None and device_map is not None:
        raise ValueError(
            "Pass device or device_map, not both: device puts the whole model on one device, "
            "device_map lets accelerate place it. Drop one of them."
        )
    if device_map is not None:
        return {"device_map": device_map, "dtype": dtype or pick_dtype()}
    device = device or pick_device()
    return {"device": device, "dtype": dtype or pick_dtype(device)}


def describe() -> dict:
    """Device, its name and memory, and the chosen dtype, as a dict (printed by ``show_device``)."""
    device = pick_device()
    info = {"device": device, "dtype": str(pick_dtype(device)).replace("torch.", "")}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info["name"] = props.name
        info["memory_gb"] = round(props.total_memory / 1024**3, 1)
        info["count"] = torch.cuda.device_count()
    elif device == "cpu":
        info["name"] = platform.processor() or platform.machine()
        info["threads"] = torch.get_num_threads()
        info["bf16_native"] = cpu_has_bf16()
    else:
        info["name"] = device
    return info


def show_device() -> dict:
    """Print the device choice as one readable block; returns the same dict."""
    info = describe()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return info


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m course_utils.device",
        description="Print the device, its memory and the dtype the course will use.",
    ).parse_args(argv)
    show_device()
    print(f"pipeline kwargs: {pipeline_kwargs()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
