"""Serves online features over HTTP: Feast's feature server (the API of `feast serve`) on the
project's store, which keeps the feature services it has read between requests.

    python -m jobs.serve [--port 6566] [--host 127.0.0.1] [--workers 1] [--env local]

Answers POST /get-online-features ({"feature_service": "driver_trips_v1", "entities":
{"driver_id": [1001], "request_timestamp": [1767225600]}}) and Feast's other routes, until
Ctrl-C or SIGTERM. Host, port, workers and the rest come from `serving:` in conf/.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from runtime.errors import JobError

log = logging.getLogger("jobs.serve")


class ServeError(JobError):
    """The feature server cannot start as asked."""


def bound_port(host: str, port: int) -> int:
    """`port` if it is free on `host` (a free one for 0), else an error that says what to do."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ServeError(
                f"cannot listen on {host}:{port} ({err.strerror}): give another --port "
                "(0 picks a free one), or stop what listens there"
            ) from err
        return probe.getsockname()[1]


def answer_cheap_calls_inline() -> None:
    """Makes Feast's server run two of its three per-request calls in the event loop rather than
    in a worker thread: the feature service (the project's store keeps it in memory; the server's
    own timer refreshes the registry, so a request does not) and turning the answer into a dict
    (pure Python: under the GIL a thread buys no parallelism). A thread hop costs ~0.14 ms here
    (docs/benchmarks.md); the lookup itself, which waits on the store, keeps its thread."""
    import feast.feature_server as server
    from fastapi.concurrency import run_in_threadpool
    from feast.feature_server_utils import convert_response_to_dict

    from definitions.feature_store import ProjectFeatureStore

    if getattr(server.run_in_threadpool, "inline_aware", False):
        return

    async def run_in_threadpool_unless_cheap(func, *args, **kwargs):
        kept = getattr(func, "__func__", None) is ProjectFeatureStore.get_feature_service
        if kept or func is convert_response_to_dict:
            return func(*args, **kwargs)
        return await run_in_threadpool(func, *args, **kwargs)

    run_in_threadpool_unless_cheap.inline_aware = True
    server.run_in_threadpool = run_in_threadpool_unless_cheap


def serve(conf: dict[str, Any]) -> None:
    """Serves until interrupted; the registry must exist (python -m jobs.register)."""
    from feast.feature_server import start_server

    from definitions.feature_store import registered_store

    settings = conf["serving"]
    limits = {"port": (0, 65535), "workers": (1, 256), "max_requests": (0, None)}
    limits["registry_ttl_seconds"] = (0, None)
    for key, (low, high) in limits.items():
        value = settings[key]
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of {low} or more"
            raise ServeError(f"serving.{key} is {value!r}: give a whole number {span}")
    store = registered_store(conf)
    services = [s.name for s in store.list_feature_services()]
    if not services:
        raise ServeError(
            f"the registry at {conf['paths']['registry']} holds no feature service: register "
            "the definitions (python -m jobs.register)"
        )
    host = settings["host"]
    port = bound_port(host, settings["port"])
    answer_cheap_calls_inline()
    print(f"serving {', '.join(services)} at http://{host}:{port}/get-online-features", flush=True)
    start_server(
        store,
        host=host,
        port=port,
        no_access_log=not settings["access_log"],
        workers=settings["workers"],
        worker_connections=1000,
        max_requests=settings["max_requests"],
        max_requests_jitter=0,
        keep_alive_timeout=30,
        registry_ttl_sec=settings["registry_ttl_seconds"],
        tls_key_path="",
        tls_cert_path="",
        metrics=False,
    )


def main(argv: list[str] | None = None) -> int:
    from runtime.cli import answered, base_parser, configure_logging, load_from_args

    parser = base_parser(__doc__)
    parser.add_argument("--host", help="address to listen on (default: serving.host)")
    parser.add_argument("--port", type=int, help="port (default: serving.port; 0: a free one)")
    parser.add_argument("--workers", type=int, help="server processes (default: serving.workers)")
    args = parser.parse_args(argv)
    for name in ("host", "port", "workers"):
        if getattr(args, name) is not None:
            args.overrides.append(f"serving.{name}={getattr(args, name)}")
    configure_logging()
    return answered(lambda: serve(load_from_args(args)))


if __name__ == "__main__":
    sys.exit(main())
