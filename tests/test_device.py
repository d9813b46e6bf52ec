import subprocess
import sys

import pytest
import torch

from course_utils import device

BF16_CPU = "processor : 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n"
OLD_CPU = "processor : 0\nflags\t\t: fpu sse avx2\n"


def test_cpu_flags_are_read():
    assert device.cpu_has_bf16(BF16_CPU)
    assert not device.cpu_has_bf16(OLD_CPU)
    assert not device.cpu_has_bf16("")


@pytest.mark.parametrize("cpuinfo, expected", [(BF16_CPU, torch.bfloat16), (OLD_CPU, torch.float32)])
def test_cpu_dtype_follows_the_hardware(monkeypatch, cpuinfo, expected):
    real = device.cpu_has_bf16
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: real(cpuinfo))
    assert device.pick_dtype("cpu") == expected


def test_gpu_dtypes(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    assert device.pick_dtype("cuda") == torch.float16  # a Colab T4
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (9, 0))
    assert device.pick_dtype("cuda") == torch.bfloat16  # an H100
    assert device.pick_dtype("mps") == torch.float16


def test_pipeline_kwargs_never_set_device_and_device_map():
    plain = device.pipeline_kwargs()
    assert "device" in plain and "device_map" not in plain
    mapped = device.pipeline_kwargs(device_map="auto")
    assert mapped["device_map"] == "auto" and "device" not in mapped
    assert isinstance(mapped["dtype"], torch.dtype)
    with pytest.raises(ValueError, match="not both"):
        device.pipeline_kwargs(device="cuda", device_map="auto")


def test_pipeline_kwargs_load_a_pipeline(tiny_dir):
    from transformers import pipeline

    pipe = pipeline("text-generation", model=str(tiny_dir), **device.pipeline_kwargs())
    assert pipe.model.dtype == device.pick_dtype()
    assert pipe("Hi", max_new_tokens=2, do_sample=False)[0]["generated_text"].startswith("Hi")


def test_describe_and_cli():
    info = device.describe()
    assert info["device"] == device.pick_device()
    assert info["dtype"] in {"float32", "bfloat16", "float16"}
    done = subprocess.run([sys.executable, "-m", "course_utils.device"],
                          capture_output=True, text=True, check=True)
    first = done.stdout.splitlines()[0].split()
    assert first == ["device", info["device"]]
    assert "pipeline kwargs:" in done.stdout
