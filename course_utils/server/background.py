"""``BackgroundServer``: uvicorn serving an app in a daemon thread, for a notebook's kernel or a test."""

from __future__ import annotations

import socket
import threading
import time


class BackgroundServer:
    """uvicorn serving ``app`` in a daemon thread: for a notebook's kernel, or a test.

    ``uvicorn.run()`` blocks, and a notebook's kernel already runs an event loop of its own, so the
    server gets its own thread (and loop). Use it as a context manager, or call ``stop()``::

        with BackgroundServer(app) as server:
            httpx.get(f"{server.url}/health")
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None,
                 log_level: str = "warning", start_timeout: float = 60.0) -> None:
        import uvicorn

        port = port or free_port(host)
        if not _port_is_free(host, port):
            raise RuntimeError(f"port {port} on {host} is in use (an earlier server still running?). "
                               "Stop it with .stop(), or pass another port=.")
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
        self.thread = threading.Thread(target=self._serve, daemon=True, name=f"uvicorn:{port}")
        self.thread.start()
        deadline = time.monotonic() + start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start on {host}:{port}; its log above says "
                                   "why (a port in use? pass another port=).")
            time.sleep(0.02)

    def _serve(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; __init__ reports it
            pass

    def stop(self, timeout: float = 30.0) -> None:
        """Ask uvicorn to finish (it lets running requests end first) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"BackgroundServer({self.url}, {'running' if self.running else 'stopped'})"


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
