"""Prometheus metrics for one server, in its own registry, served on ``CONTRA_METRICS_ADDR``.

A private ``CollectorRegistry`` (not prometheus-client's global one) keeps servers in one process,
as in tests, from sharing or clashing over counters.

    contra_requests_total{method,code}            calls answered, by gRPC status code (auth refusals
                                                  show as UNAUTHENTICATED / PERMISSION_DENIED)
    contra_request_seconds{method,code}           call latency (histogram)
    contra_requests_in_flight{method}             calls being handled now
    contra_queue_waiting / contra_workers_busy    callers queued for / threads busy with model work
    contra_streams_open                           streaming calls open now
    contra_batch_size{method}                     documents per Ingest, claims judged per Check, ...
    contra_model_seconds{method}                  time spent in model work (embed, search, NLI)
    contra_index_size / contra_ready              vectors in the index; 1 once models are loaded
    process_*                                     resident memory, CPU, open fds of the server
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class Metrics:
    """Every instrument the server updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        self.requests = Counter("contra_requests", "Calls answered", ["method", "code"], registry=r)
        self.latency = Histogram(
            "contra_request_seconds", "Call latency", ["method", "code"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge("contra_requests_in_flight", "Calls being handled", ["method"], registry=r)
        self.queue_waiting = Gauge("contra_queue_waiting", "Callers queued for a model worker", registry=r)
        self.workers_busy = Gauge("contra_workers_busy", "Worker threads busy with model work", registry=r)
        self.streams_open = Gauge("contra_streams_open", "Streaming calls open", registry=r)
        self.batch_size = Histogram(
            "contra_batch_size",
            "Items per call (documents, judged pairs)",
            ["method"],
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.model_seconds = Histogram(
            "contra_model_seconds", "Time in model work per call", ["method"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.index_size = Gauge("contra_index_size", "Vectors in the index", registry=r)
        self.ready = Gauge("contra_ready", "1 once models and index are loaded", registry=r)

    def watch(self, *, waiting: Callable[[], float], busy: Callable[[], float], streams: Callable[[], float]) -> None:
        """Gauges read at scrape time from the live objects (no bookkeeping on the hot path)."""
        self.queue_waiting.set_function(waiting)
        self.workers_busy.set_function(busy)
        self.streams_open.set_function(streams)

    def watch_index(self, size: Callable[[], float]) -> None:
        self.index_size.set_function(size)
        self.ready.set(1)

    def observe_model(self, method: str, seconds: float) -> None:
        self.model_seconds.labels(method).observe(seconds)


class MetricsServer:
    """The /metrics HTTP endpoint (prometheus-client's WSGI server on a daemon thread)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @classmethod
    def start(cls, metrics: Metrics, address: str) -> MetricsServer:
        host, _, port = address.rpartition(":")
        server, thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=metrics.registry)
        return cls(server, thread)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
