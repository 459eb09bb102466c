"""Prometheus metrics of the service, kept in a registry of their own (one per app, so tests can run several)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServiceMetrics:
    """Request counts and latencies, image outcomes, queue depth and model batch sizes.

    Names (all prefixed ``pixgrade_``): ``http_requests_total{method,route,status}``,
    ``http_request_duration_seconds{method,route}``, ``images_total{outcome}``, ``overload_rejections_total``,
    ``queue_depth`` (images waiting for the model), ``images_in_flight`` (admitted, not yet answered),
    ``model_batch_size``, ``model_batch_seconds``, ``model_queue_wait_seconds``.
    """

    def __init__(self, max_batch: int = 8) -> None:
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
        self.queue_depth = Gauge("pixgrade_queue_depth", "Images waiting in the model queue.", registry=r)
        self.in_flight = Gauge(
            "pixgrade_images_in_flight",
            "Images admitted and not yet answered (decoding, queued or in the model).",
            registry=r,
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
        """Read the gauges from live values at scrape time."""
        self.queue_depth.set_function(queue_depth)
        self.in_flight.set_function(in_flight)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
