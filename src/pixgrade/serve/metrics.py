"""Prometheus metrics of the service, kept in a registry of their own (one per app, so tests can run several).

With several server processes (``pixgrade serve --workers N``) each process writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, which ``serve`` sets up) and ``/metrics``,
whichever process answers, adds up those of every process: counters and histograms summed over all of them,
gauges summed over the processes alive.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROCESS_ENV", "ServiceMetrics", "multiprocess_mode"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable naming the folder where every server process writes its metric values."""


def multiprocess_mode() -> bool:
    """True when this process's metrics are written to :data:`MULTIPROCESS_ENV`'s folder: prometheus-client
    chooses that when it is first imported with the variable set (as in the workers of ``serve --workers N``)."""
    return values.ValueClass is not values.MutexValue


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServiceMetrics:
    """Request counts and latencies, image outcomes, queue depth and model batch sizes.

    Names (all prefixed ``pixgrade_``): ``http_requests_total{method,route,status}``,
    ``http_request_duration_seconds{method,route}``, ``images_total{outcome}``, ``overload_rejections_total``,
    ``queue_depth`` (images waiting for the model), ``images_in_flight`` (admitted, not yet answered),
    ``model_batch_size``, ``model_batch_seconds``, ``model_queue_wait_seconds``.
    """

    def __init__(self, max_batch: int = 8) -> None:
        self.multiprocess = multiprocess_mode()
        self._gauge_sources: list[tuple[Gauge, Callable[[], float]]] = []
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "pixgrade_http_requests_total", "HTTP requests answered.", ("method", "route", "status"), registry=r
        )
        self.latency = Histogram(
            "pixgrade_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.images = Counter(
            "pixgrade_images_total",
            "Uploaded images by outcome (scored, or the HTTP status of the failure).",
            ("outcome",),
            registry=r,
        )
        self.overload = Counter(
            "pixgrade_overload_rejections_total", "Requests refused with 503 because the queue was full.", registry=r
        )
        self.queue_depth = Gauge(
            "pixgrade_queue_depth", "Images waiting in the model queue.", registry=r, multiprocess_mode="livesum"
        )
        self.in_flight = Gauge(
            "pixgrade_images_in_flight",
            "Images admitted and not yet answered (decoding, queued or in the model).",
            registry=r,
            multiprocess_mode="livesum",
        )
        batch_buckets = tuple(sorted({1, 2, 4, 8, 16, 32, 64, max_batch}))
        self.batch_size = Histogram(
            "pixgrade_model_batch_size", "Images per model batch.", buckets=batch_buckets, registry=r
        )
        self.batch_seconds = Histogram(
            "pixgrade_model_batch_seconds", "Time the model took per batch.", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.queue_wait = Histogram(
            "pixgrade_model_queue_wait_seconds",
            "Time the oldest image of a batch waited in the queue.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def bind_gauges(self, queue_depth: Callable[[], float], in_flight: Callable[[], float]) -> None:
        """Read the gauges from live values: at scrape time in one process; with several, each process writes
        its own values at every request it answers (:meth:`refresh`) and at its scrapes."""
        if not self.multiprocess:
            self.queue_depth.set_function(queue_depth)
            self.in_flight.set_function(in_flight)
            return
        self._gauge_sources = [(self.queue_depth, queue_depth), (self.in_flight, in_flight)]
        self.refresh()

    def refresh(self) -> None:
        """Write this process's live gauge values (multiprocess mode only; a no-op otherwise)."""
        for gauge, source in self._gauge_sources:
            gauge.set(source())

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (of every server process in multiprocess mode)."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        self.refresh()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def close(self) -> None:
        """At the end of a server process: its live gauges leave the sums (multiprocess mode only)."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())
