"""``course_utils.bench.scrape``: Prometheus pages read over time, histogram quantiles as PromQL
computes them."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from course_utils.bench.scrape import Scraper, bucket_quantile, parse, total


def test_bucket_quantile_is_linear_inside_the_bucket():
    # 10 observations: 4 at or below 1 s, 8 at or below 2 s, all 10 at or below 4 s
    buckets = [(1.0, 4.0), (2.0, 8.0), (4.0, 10.0), (float("inf"), 10.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(1.25)  # rank 5: a quarter into (1, 2]
    assert bucket_quantile(0.9, buckets) == pytest.approx(3.0)  # rank 9: half-way into (2, 4]
    assert bucket_quantile(0.2, buckets) == pytest.approx(0.5)
    assert bucket_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None  # nothing observed
    assert bucket_quantile(0.99, [(1.0, 1.0), (float("inf"), 4.0)]) == 1.0  # beyond the last bound


def test_parse_and_total_match_labels():
    registry = CollectorRegistry()
    waiting = Gauge("vllm:num_requests_waiting", "w", ["model"], registry=registry)
    waiting.labels("a").set(3)
    waiting.labels("b").set(4)
    sample = parse(generate_latest(registry).decode())
    assert total(sample, "vllm:num_requests_waiting") == 7
    assert total(sample, "vllm:num_requests_waiting", model="b") == 4
    assert total(sample, "vllm:nothing") is None


def wait_for_readings(scraper, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(scraper.readings) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(scraper.readings) >= count, f"{len(scraper.readings)} readings, {scraper.errors} errors"


def test_scraper_follows_a_live_page_and_the_quantile_of_a_window():
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from course_utils.server import BackgroundServer

    registry = CollectorRegistry()
    requests = Counter("requests", "r", registry=registry)
    queue = Gauge("queue", "q", registry=registry)
    latency = Histogram("latency_seconds", "l", buckets=(0.5, 1.0, 2.0), registry=registry)
    app = FastAPI()

    @app.get("/metrics")
    def metrics():
        return PlainTextResponse(generate_latest(registry).decode())

    for _ in range(5):
        latency.observe(0.2)  # before the window: must not count
    with BackgroundServer(app) as server:
        with Scraper(server.url, every=0.1) as scraper:
            wait_for_readings(scraper, 2)
            mark = scraper.readings[-1][0]
            for value in (1.5, 1.5, 1.5, 1.5):
                latency.observe(value)
            requests.inc(4)
            queue.set(9)
            wait_for_readings(scraper, len(scraper.readings) + 2)
    assert len(scraper.readings) >= 5 and scraper.errors == 0
    values = [v for _, v in scraper.series("queue")]
    assert values[0] == 0 and values[-1] == 9
    assert scraper.increase("requests_total", mark, float("inf")) == 4
    assert scraper.quantile("latency_seconds", 0.5, mark) == pytest.approx(1.5)  # only the window's
    assert scraper.quantile("latency_seconds", 0.5) == pytest.approx(0.45)  # all, since the start
