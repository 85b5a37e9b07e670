"""The server's Prometheus metrics, at GET /metrics (each worker process counts its own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ROUTES = ("/get-online-features", "/write-to-online-store", "/health", "/metrics")
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ServerMetrics:
    """Requests by route and status, their latency, rows looked up, open connections."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "trip_features_http_requests",
            "HTTP requests answered, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "trip_features_http_request_seconds",
            "Seconds from a request's arrival to its answer, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "trip_features_lookup_rows", "Entity rows looked up", registry=self.registry
        )
        self.connections = Gauge(
            "trip_features_http_open_connections", "Open client connections", registry=self.registry
        )
        self.materialized_until = Gauge(
            "trip_features_materialized_until_seconds",
            "Unix time up to which each online view is materialized: answers are exact for the "
            "rows loaded so far",
            ["view"],
            registry=self.registry,
        )
        self.refused_connections = Counter(
            "trip_features_http_refused_connections",
            "Connections refused or closed by a limit, by reason",
            ["reason"],
            registry=self.registry,
        )

        self.logged_rows = Gauge(
            "trip_features_serving_log_rows",
            "Answered entity rows of the serving log (definitions.serving_log): recorded, "
            "written, or dropped (a full queue or a failed write)",
            ["state"],
            registry=self.registry,
        )

    def observe(self, path: str, status: int, seconds: float) -> None:
        route = path if path in ROUTES else "other"  # a hostile client's paths make no series
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
