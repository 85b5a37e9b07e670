"""Runs the feature server: uvicorn with the limits uvicorn lacks, TLS from conf, N workers.

uvicorn closes idle keep-alive connections, but a connection that opens and sends nothing, or
half a request, stays open for ever, and it takes any number of connections and any size of
headers. `BoundedHttpProtocol` adds, from conf's `serving.limits`:
  - a read deadline: a request must arrive whole within read_timeout_seconds of its first byte
    (or of the connection's opening), else 408 and the connection closes;
  - a cap on open connections: one over max_connections gets 429 and is closed;
  - a cap of 64 KiB on a request's line and headers: 431.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trip_features.feature_serving.http_app import FeatureServer
from trip_features.feature_serving.metrics import ServerMetrics
from trip_features.runtime.serving_settings import Limits, ServingSettings
from trip_features.runtime.settings import Settings

log = logging.getLogger("trip_features.feature_serving")
MAX_HEAD_BYTES = 64 * 1024
DRAIN_SECONDS = 0.5
CONF_VARIABLE = "TRIP_FEATURES_SERVING_CONF"  # how the workers of a multi-process server get conf


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline and caps on connections and headers."""

    limits: Limits = Limits()
    metrics: ServerMetrics | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_timer: asyncio.TimerHandle | None = None
        self._head_bytes, self._in_head, self._draining = 0, True, False
        self._count()
        if len(self.connections) > self.limits.max_connections:
            self._refuse(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"over {self.limits.max_connections} open connections "
                "(serving.limits.max_connections): try again soon",
                "connections",
            )
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._draining or self.transport.is_closing():
            return
        if self._read_timer is None:
            self._arm()
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"the request line and headers are over {MAX_HEAD_BYTES} bytes",
                    "headers",
                )
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._head_bytes, self._in_head = 0, True
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        self._count()

    def _arm(self) -> None:
        self._read_timer = self.loop.call_later(self.limits.read_timeout_seconds, self._timed_out)

    def _disarm(self) -> None:
        if getattr(self, "_read_timer", None) is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        self._refuse(
            HTTPStatus.REQUEST_TIMEOUT,
            f"the request did not arrive whole within {self.limits.read_timeout_seconds:g} s "
            "(serving.limits.read_timeout_seconds)",
            "read_timeout",
        )

    def _refuse(self, status: HTTPStatus, reason: str, kind: str) -> None:
        """Answers `status` with a one-line JSON reason and closes the connection."""
        self._disarm()
        body = json.dumps({"error": reason, "field": "connection"}).encode()
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n"
        )
        extra = "retry-after: 1\r\n" if status == HTTPStatus.TOO_MANY_REQUESTS else ""
        if not self.transport.is_closing() and not self._draining:
            self.transport.write((head + extra + "\r\n").encode() + body)
            # What the client still sends is read and dropped for a moment: closing on unread
            # bytes makes the kernel reset the connection, and the client lose the answer
            self._draining = True
            self.loop.call_later(DRAIN_SECONDS, self.transport.close)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.info("refused connection %d from %s: %s", status.value, client, reason)
        if self.metrics is not None:
            self.metrics.refused_connections.labels(kind).inc()

    def _count(self) -> None:
        if self.metrics is not None:
            self.metrics.connections.set(len(self.connections))


# A hot driver's lookup allocates and frees a few blocks of megabytes. glibc maps each block
# over its threshold fresh from the kernel, and hands freed heap tops back, so every lookup paid
# page faults on megabytes: through the server, a driver of 100,000 trips took several times its
# in-process time (benchmarks/lookup_by_driver_size.py measures the server as shipped). Blocks up
# to 64 MiB come from the heap, and up to 128 MiB of freed heap is kept for the next lookups.
MMAP_THRESHOLD_BYTES = 64 * 2**20
TRIM_THRESHOLD_BYTES = 128 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Keeps freed blocks of up to MMAP_THRESHOLD_BYTES for reuse (glibc; elsewhere nothing
    changes): whether it was set."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: its allocator keeps its own policy
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def build_server(conf: Settings, settings: ServingSettings) -> FeatureServer:
    """The app over conf's registered store; the protocol takes the same limits and metrics."""
    from definitions.feature_store import registered_store

    keep_freed_memory()  # in each worker process
    store = registered_store(conf)
    app = FeatureServer(store, settings)
    BoundedHttpProtocol.limits = settings.limits
    BoundedHttpProtocol.metrics = app.metrics
    return app


def app_from_environment() -> FeatureServer:
    """A worker's app (uvicorn's factory), from the conf its parent left in the environment."""
    conf = Settings.model_validate_json(os.environ[CONF_VARIABLE])
    return build_server(conf, conf.serving.with_api_keys())


def server_options(settings: ServingSettings, port: int) -> dict[str, Any]:
    """uvicorn's options for these settings: the bounded protocol, keep-alive, TLS, and a
    shutdown that waits at most 10 s for open requests (and TLS connections' goodbyes)."""
    options: dict[str, Any] = dict(
        host=settings.host,
        port=port,
        http=BoundedHttpProtocol,
        timeout_keep_alive=settings.limits.keep_alive_seconds,
        timeout_graceful_shutdown=10,
        server_header=False,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    if settings.tls.enabled:
        options.update(ssl_certfile=settings.tls.cert_file, ssl_keyfile=settings.tls.key_file)
    return options


def run(conf: Settings, settings: ServingSettings, port: int) -> None:
    """Serves on settings.host:port until SIGINT or SIGTERM."""
    import uvicorn

    options = server_options(settings, port)
    if settings.workers == 1:
        uvicorn.Server(uvicorn.Config(build_server(conf, settings), **options)).run()
        return
    os.environ[CONF_VARIABLE] = conf.model_dump_json(by_alias=True)
    target = "trip_features.feature_serving.http_server:app_from_environment"
    uvicorn.run(target, factory=True, workers=settings.workers, **options)
