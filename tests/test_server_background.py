"""BackgroundServer, the tutorial server (--naive) and the command line (course_utils/server/
background.py, naive.py, cli.py)."""

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from course_utils.server import BackgroundServer, Engine, create_app, create_naive_app, free_port


@pytest.fixture(scope="module")
def tiny_engine(tiny_dir):
    engine = Engine(str(tiny_dir))
    yield engine
    engine.close()


def test_background_server_stops_and_frees_its_port(tiny_engine):
    server = BackgroundServer(create_app(tiny_engine))
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    server.stop()
    assert not server.running
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=2)


def test_background_server_names_the_fix_when_the_port_is_taken(tiny_engine):
    with BackgroundServer(create_app(tiny_engine)) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="is in use"):
            BackgroundServer(create_app(tiny_engine), port=port, log_level="critical")
        assert httpx.get(f"{first.url}/health").status_code == 200


def _health_waits_for_the_generation(app, engine) -> bool:
    """Start a long generation; ask /health while it runs. True when /health answered only after
    the generation ended (the engine's own record says when: ``Finished`` reached the reader)."""
    while engine.admitted:
        time.sleep(0.01)
    started, ended = threading.Event(), threading.Event()
    engine.on_step = lambda rows: started.set()
    original = type(engine).events

    def recording(self, request):
        try:  # a reader may stop at the Finished event without exhausting the generator
            yield from original(self, request)
        finally:
            ended.set()

    engine.events = recording.__get__(engine)
    try:
        with BackgroundServer(app) as server:
            if app.title.startswith("naive"):
                call = lambda: httpx.post(f"{server.url}/generate", timeout=120, params={  # noqa: E731
                    "prompt": "Once upon a time", "max_new_tokens": 64})
            else:
                call = lambda: httpx.post(f"{server.url}/generate", timeout=120, json={  # noqa: E731
                    "inputs": "Once upon a time", "parameters": {"max_new_tokens": 64}})
            worker = threading.Thread(target=call)
            worker.start()
            assert started.wait(60), "the generation never started"
            assert httpx.get(f"{server.url}/health", timeout=120).status_code == 200
            waited = ended.is_set()
            worker.join()
    finally:
        engine.on_step = None
        del engine.events
    return waited


@pytest.fixture
def real_engine(course_model_dir):  # one per test: a test that fails leaves nothing behind
    engine = Engine(str(course_model_dir), request_timeout=60)
    yield engine
    engine.close()


def test_health_answers_while_a_long_generation_runs(real_engine):
    assert not _health_waits_for_the_generation(create_app(real_engine), real_engine)


def test_the_naive_server_makes_health_wait(real_engine):
    # What lesson 03 shows: an async endpoint that calls the model blocks the event loop.
    assert _health_waits_for_the_generation(create_naive_app(real_engine), real_engine)


def test_cli_passes_its_settings_to_the_engine(tiny_dir, monkeypatch):
    """The static scheduler through the command line, in this process (the real serving on
    loopback, a subprocess, is tried once, below: each start imports everything again)."""
    import uvicorn

    from course_utils.server.cli import main

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, log_level: served.update(app=app, port=port))
    assert main(["--model", str(tiny_dir), "--port", "8123", "--scheduler", "static", "--threads", "1",
                 "--max-wait-ms", "20"]) == 0
    engine = served["app"].state.engine
    try:
        assert (engine.scheduler, engine.threads, served["port"]) == ("static", 1, 8123)
    finally:
        engine.close()


def test_cli_serves_on_loopback(tiny_dir):
    scheduler = "step"  # (the static scheduler's settings: the test above)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "course_utils.server", "--model", str(tiny_dir),
                             "--port", str(port), "--scheduler", scheduler, "--threads", "1"],
                            env={**os.environ, "OMP_NUM_THREADS": "3"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        info = httpx.get(f"http://127.0.0.1:{port}/info").json()
        assert info["model_id"] == tiny_dir.name  # the folder's name: no file paths in answers
        assert info["scheduler"] == scheduler
        assert info["threads"] == 1  # its own setting, not the environment's
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_sets_its_own_threads(capsys):
    from course_utils.server.cli import available_cores, main, parser

    assert parser().parse_args([]).threads == available_cores() >= 1
    assert main(["--threads", "0"]) == 2  # refused before any model is loaded
    assert "threads must be at least 1" in capsys.readouterr().out
