"""Prometheus metrics under TGI's names (``GET /metrics``), with prometheus-client, one registry per app.

prometheus-client follows OpenMetrics and adds ``_total`` to counters (``tgi_request_count_total``);
TGI's own exporter writes ``tgi_request_count``. vLLM's time-to-first-token histogram and its prefix
cache counters (prompt tokens looked up, and found: their ratio is the cache's hit rate) are here too.
"""

from __future__ import annotations

import time

from .events import Finished

SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKENS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class Metrics:
    def __init__(self, engine) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.count = Counter("tgi_request_count", "Requests received", registry=r)
        self.success = Counter("tgi_request_success", "Requests answered successfully", registry=r)
        self.failure = Counter("tgi_request_failure", "Failed requests, by kind", ["err"], registry=r)
        self.duration = Histogram("tgi_request_duration", "Request duration (s)", buckets=SECONDS, registry=r)
        self.queue_duration = Histogram("tgi_request_queue_duration", "Time in the queue (s)",
                                        buckets=SECONDS, registry=r)
        self.input_length = Histogram("tgi_request_input_length", "Prompt tokens", buckets=TOKENS, registry=r)
        self.generated = Histogram("tgi_request_generated_tokens", "Generated tokens", buckets=TOKENS,
                                   registry=r)
        self.per_token = Histogram("tgi_request_mean_time_per_token_duration",
                                   "Mean time per generated token (s)",
                                   buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1), registry=r)
        self.first_token = Histogram("vllm:time_to_first_token_seconds", "Time to first token (s)",
                                     buckets=SECONDS, registry=r)
        self.prefix_queries = Counter("vllm:prefix_cache_queries", "Prompt tokens looked up in the cache",
                                      registry=r)
        self.prefix_hits = Counter("vllm:prefix_cache_hits", "Prompt tokens found in the prefix cache",
                                   registry=r)
        Gauge("tgi_queue_size", "Requests waiting", registry=r).set_function(lambda: engine.queue_size)
        Gauge("tgi_batch_current_size", "Requests in the running batch",
              registry=r).set_function(lambda: engine.running_batch_size)

    def failed(self, kind: str) -> None:
        self.failure.labels(err=kind).inc()

    def first(self, started: float) -> None:
        self.first_token.observe(time.monotonic() - started)

    def finished(self, event: Finished, started: float) -> None:
        self.success.inc()
        self.duration.observe(time.monotonic() - started)
        self.queue_duration.observe(event.queue_time)
        self.input_length.observe(event.prompt_tokens)
        self.prefix_queries.inc(event.prompt_tokens)
        self.prefix_hits.inc(event.cached_tokens)
        self.generated.observe(event.generated_tokens)
        if event.generated_tokens:
            self.per_token.observe(event.inference_time / event.generated_tokens)

    def render(self):
        from fastapi.responses import Response
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
