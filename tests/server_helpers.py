"""Helpers shared by the server's tests."""

import threading


class Gate:
    """Makes the engine's model wait until released: to fill the server on purpose."""

    def __init__(self, engine, monkeypatch):
        self.entered, self.release = threading.Event(), threading.Event()
        original = engine.model.forward

        def held(*args, **kwargs):
            self.entered.set()
            self.release.wait(60)
            return original(*args, **kwargs)

        monkeypatch.setattr(engine.model, "forward", held)


def together(n, fn):
    """fn(i) for i in range(n), from n threads at once; the results in order."""
    results = [None] * n
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, fn(i))) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
