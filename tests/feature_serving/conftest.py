"""Feature servers for the tests: the real app and protocol under uvicorn, on a free loopback
port, in a thread of the test process (started in well under a second) and stopped at the end,
also when a test fails. `jobs.serve` itself runs as a process in test_serve_job.py."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs import materialize
from trip_features.feature_serving.http_server import build_server, server_options
from trip_features.runtime.config import apply_override
from trip_features.runtime.settings import Settings

FULL_END = "2026-01-12"


@contextlib.contextmanager
def running_server(conf: Settings, *overrides: str) -> Iterator[tuple[int, object]]:
    """The feature server over `conf` (with `overrides`), on 127.0.0.1: its port and app."""
    import uvicorn

    conf = apply_override(conf, *overrides)
    settings = conf.serving.with_api_keys()
    app = build_server(conf, settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = server_options(settings, port)  # as jobs.serve runs it, on 127.0.0.1
    server = uvicorn.Server(uvicorn.Config(app, **{**options, "host": "127.0.0.1"}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the feature server died while starting"
        assert time.monotonic() < deadline, "the feature server did not start within 30 s"
        time.sleep(0.02)
    try:
        yield port, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the feature server did not stop"


def post(connection: http.client.HTTPConnection, body, path="/get-online-features", headers=None):
    """POSTs `body` (JSON unless bytes) on a kept-alive connection: status and parsed answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection.request(
        "POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read() or b"null")


@pytest.fixture(scope="session")
def served_stores(feast_conf, redis_conf, tmp_path_factory) -> dict[str, Settings]:
    """conf of each online store (sqlite, redis), with the whole range materialized; registries,
    the sqlite file and the Redis database (1) are the serving tests' own."""
    tmp = Path(tmp_path_factory.mktemp("served"))
    sqlite = _own_registry(feast_conf[0], tmp / "sqlite")
    shutil.copy(sqlite.paths.online_store, tmp / "online.db")  # its tables, made by register
    sqlite = apply_override(sqlite, f"paths.online_store={tmp / 'online.db'}")
    redis = _own_registry(redis_conf[0], tmp / "redis")
    redis = apply_override(
        redis, "feast.online_store.connection_string=${TRIP_FEATURES_REDIS},db=1"
    )
    for conf in (sqlite, redis):
        materialize.run(conf, start="2026-01-01", end=FULL_END)
    return {"sqlite": sqlite, "redis": redis}


def _own_registry(conf: Settings, folder: Path) -> Settings:
    folder.mkdir(parents=True)
    shutil.copy(conf.paths.registry, folder / "registry.db")
    return apply_override(conf, f"paths.registry={folder / 'registry.db'}")
