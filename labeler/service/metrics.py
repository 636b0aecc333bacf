"""Prometheus metrics on the service's own registry (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "labeler_requests", "Calls by method and outcome (gRPC status name).", ["method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "labeler_request_seconds", "Call latency by method.", ["method"], registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.bytes_in = Counter("labeler_upload_bytes", "Media bytes received.", ["method"], registry=self.registry)
        self.bytes_out = Counter("labeler_download_bytes", "Media bytes sent.", ["method"], registry=self.registry)
        self.verdicts = Counter("labeler_verdicts", "Verify/Propagate verdicts.", ["verdict"], registry=self.registry)
        self.watermarks = Counter(
            "labeler_watermark_detections", "Verify calls where our watermark decoded.", registry=self.registry
        )
        self.inflight = Gauge("labeler_inflight_calls", "Calls admitted and not finished.", registry=self.registry)
