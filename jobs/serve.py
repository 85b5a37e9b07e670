"""Serves online features over HTTP, read-only unless conf says otherwise
(trip_features/feature_serving/).

    python -m jobs.serve [--host 127.0.0.1] [--port 6566] [--workers 1] [--env local] [--insecure]

Answers POST /get-online-features ({"feature_service": "driver_trips_v1", "entities":
{"driver_id": [1001], "request_timestamp": [1767225600]}}), GET /health and GET /metrics until
Ctrl-C or SIGTERM; everything else comes from `serving:` in conf/. Any address but loopback
needs serving.auth and serving.tls, or --insecure.
"""

from __future__ import annotations

import json
import logging
import socket
import sys

from trip_features.runtime.serving_settings import ServingError, ServingSettings
from trip_features.runtime.settings import Settings

log = logging.getLogger("jobs.serve")


def bound_port(host: str, port: int) -> int:
    """`port` if it is free on `host` (a free one for 0), else an error that says what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ServingError(
                f"cannot listen on {host}:{port} ({err.strerror}): give another --port "
                "(0 picks a free one), or stop what listens there"
            ) from err
        return probe.getsockname()[1]


def serve(conf: Settings, insecure: bool = False) -> None:
    """Serves until interrupted; the registry must hold a feature service (jobs.register)."""
    from definitions.feature_store import registered_store
    from trip_features.feature_serving.http_server import run

    settings = conf.serving.with_api_keys()
    warning = settings.refuse_unsafe_exposure(insecure)
    store = registered_store(conf)
    services = [s.name for s in store.list_feature_services()]
    if not services:
        raise ServingError(
            f"the registry at {conf.paths.registry} holds no feature service: register "
            "the definitions (python -m jobs.register)"
        )
    port = bound_port(settings.host, settings.port)
    if warning:
        log.warning(warning)
    print(_banner(settings, port, services), flush=True)
    run(conf, settings, port)


def _banner(settings: ServingSettings, port: int, services: list[str]) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    routes = "lookups, health, metrics" + (", writes" if settings.write_routes else "")
    return (
        f"serving {', '.join(services)} at {settings.scheme}://{host}:{port}/get-online-features "
        f"({routes}; auth: {settings.auth.describe()})"
    )


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--host", help="address to listen on (default: serving.host)")
    parser.add_argument("--port", type=int, help="port (default: serving.port; 0: a free one)")
    parser.add_argument("--workers", type=int, help="server processes (default: serving.workers)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address without auth or TLS (logged as a warning)",
    )
    args = parser.parse_args(argv)
    for name in ("host", "port", "workers"):
        if getattr(args, name) is not None:  # as JSON, which YAML reads back as given (::)
            args.overrides.append(f"serving.{name}={json.dumps(getattr(args, name))}")
    configure_logging()
    return answered(lambda: serve(load_from_args(args), args.insecure))


if __name__ == "__main__":
    sys.exit(main())
