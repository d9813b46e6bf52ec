"""Reading a server's Prometheus ``/metrics`` while it works: what Prometheus does, in a notebook.

``Scraper(url, every=1.0)`` reads ``url/metrics`` in a background thread every ``every`` seconds
(as a Prometheus scrape job would) and keeps each reading, parsed by ``prometheus_client``'s own
parser, as ``(seconds since the start, {(name, labels): value})``. Then:

- ``series(name)``: a gauge or counter over time (``vllm:num_requests_waiting``);
- ``quantile(name, q, since, until)``: a histogram's quantile between two readings, from the
  growth of its buckets, as PromQL's ``histogram_quantile(q, rate(name_bucket[w]))`` computes it
  (linear inside the bucket that holds the quantile).

Written here because Prometheus itself is a server to install and run; these few lines give a
notebook the same numbers from the same text.
"""

from __future__ import annotations

import threading
import time

Sample = dict  # {(metric name, tuple of sorted (label, value) pairs): value}


def parse(text: str) -> Sample:
    """Every sample of a Prometheus text page, keyed by ``(name, labels)``."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(sample: Sample, name: str, **labels) -> float | None:
    """The sum of ``name``'s samples whose labels include ``labels`` (None if there is none)."""
    found = [value for (n, pairs), value in sample.items()
             if n == name and all(dict(pairs).get(k) == v for k, v in labels.items())]
    return sum(found) if found else None


class Scraper:
    """Read ``url/metrics`` every ``every`` seconds until stopped; see the module docstring."""

    def __init__(self, url: str, every: float = 1.0) -> None:
        self.url, self.every = url.rstrip("/"), every
        self.readings: list[tuple[float, Sample]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0

    def scrape_once(self) -> None:
        import httpx

        try:
            text = httpx.get(f"{self.url}/metrics", timeout=max(self.every, 2.0)).text
        except httpx.HTTPError:
            self.errors += 1
            return
        self.readings.append((time.monotonic() - self.started, parse(text)))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.scrape_once()
            self._stop.wait(self.every)

    def start(self) -> Scraper:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="scraper")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.scrape_once()  # the last reading, after the load

    def __enter__(self) -> Scraper:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ reading what was scraped
    def series(self, name: str, **labels) -> list[tuple[float, float]]:
        """``(seconds, value)`` of ``name`` (summed over the other labels) at every reading."""
        return [(t, value) for t, sample in self.readings
                if (value := total(sample, name, **labels)) is not None]

    def reading_at(self, seconds: float) -> Sample:
        """The last reading taken at or before ``seconds`` (the first one if none is)."""
        before = [sample for t, sample in self.readings if t <= seconds]
        return before[-1] if before else self.readings[0][1]

    def increase(self, name: str, since: float, until: float, **labels) -> float:
        """How much counter ``name`` grew between two readings (PromQL's ``increase``)."""
        first = total(self.reading_at(since), name, **labels) or 0.0
        return (total(self.reading_at(until), name, **labels) or 0.0) - first

    def quantile(self, name: str, q: float, since: float | None = None, until: float = float("inf"),
                 **labels) -> float | None:
        """Quantile ``q`` of histogram ``name`` over the observations made between the readings
        at ``since`` (None: since the server started) and ``until``; None when there were none."""
        start, end = ({} if since is None else self.reading_at(since)), self.reading_at(until)
        counts = {}
        for (n, pairs), value in end.items():
            label = dict(pairs)
            if n != f"{name}_bucket" or any(label.get(k) != v for k, v in labels.items()):
                continue
            bound = float(label["le"])
            counts[bound] = counts.get(bound, 0.0) + value - (start.get((n, pairs)) or 0.0)
        return bucket_quantile(q, sorted(counts.items()))


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile``: ``buckets`` are (upper bound, cumulative count), sorted, the last
    one ``+Inf``. Linear inside the bucket that holds the quantile; the highest finite bound when
    it falls in ``+Inf``."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
