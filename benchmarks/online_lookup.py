"""Online lookups on the embedded sqlite store against a Redis server, measured in one run: the
same features, materialized into both, asked for one driver at a time as a model server would.

    .venv/bin/python -m benchmarks.online_lookup [--rows 200000] [--requests 1000]

Starts its own redis-server on a free loopback port (stopped by its pid at the end), computes the
features of sample trips, registers and materializes them into each store, then per store and
service sends --requests sequential lookups of one random driver after 100 warm-up ones, in process
(get_online_features) and over HTTP, one kept-alive connection, to two servers on free loopback
ports (stopped by their pids): the stock `feast serve`, and `jobs.serve` (the project's server,
`trip_features/feature_serving/`). In process, the lookups are measured with the serving log on (as
shipped: every answer logged), then off, per store and service. Materialized up to the last trip and
asked at it, so the windows at the moment asked hold that driver's week of trips. Prints p50, p99
and max in milliseconds and the ratio of p50 to the in-process sqlite p50 (log on) of the same
service.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from trip_features.runtime.config import load_config
from trip_features.runtime.settings import Settings
from trip_features.storage.sample_trips import generate_trips, write_trips

SERVICES = ("driver_activity_v1", "driver_trips_v1")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "redis-server is not installed: bash scripts/setup.sh --with-test-services"
        )
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder), "--logfile", str(folder / "redis.log")],
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("redis-server did not start within 30 s")


@contextlib.contextmanager
def redis_on_loopback(folder: Path) -> Iterator[str]:
    """A redis-server of the benchmark's own (its address), stopped by its pid at the end."""
    server, address = _start_redis(folder)
    try:
        yield address
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)


@contextlib.contextmanager
def serving(kind: str, conf: Settings, overrides: list[str], folder: Path) -> Iterator[int]:
    """`feast serve` or `jobs.serve` (its port), stopped by its pid at the end."""
    server, port = _serve(kind, conf, overrides, folder)
    try:
        yield port
    finally:
        server.terminate()
        server.wait(30)


def store_overrides(name: str, shared: list[str], root: Path) -> list[str]:
    """conf overrides of a benchmark's own registry and online store: sqlite or redis (the
    server in TRIP_FEATURES_REDIS)."""
    overrides = [
        *shared,
        f"paths.registry={root / name / 'registry.db'}",
        f"paths.online_store={root / name / 'online.db'}",
    ]
    if name == "redis":
        overrides += [
            "feast.online_store.type=redis",
            "feast.online_store.connection_string=${TRIP_FEATURES_REDIS}",
        ]
    return overrides


def _latencies(store, service: str, drivers: np.ndarray, requests: int, at) -> np.ndarray:
    feature_service = store.get_feature_service(service)
    rng = np.random.default_rng(7)
    seconds = []
    for i in range(100 + requests):
        row = {"driver_id": int(rng.choice(drivers))}
        row["request_timestamp"] = at  # the windows and the calendar are of this moment
        began = time.perf_counter()
        store.get_online_features(features=feature_service, entity_rows=[row]).to_dict()
        if i >= 100:
            seconds.append(time.perf_counter() - began)
    return np.array(seconds) * 1000


def _serve(
    server_kind: str, conf: Settings, overrides: list[str], folder: Path
) -> tuple[subprocess.Popen, int]:
    """`feast serve` or `jobs.serve` over `conf`'s registry and stores, answering on 127.0.0.1."""
    from definitions.feature_store import write_repo
    from tests.jobs.feast_serving import start_feast_serve

    if server_kind == "feast serve":
        server, port = start_feast_serve(write_repo(conf, folder))
    else:
        port = _free_port()
        sets = [a for o in [*overrides, f"serving.port={port}"] for a in ("--set", o)]
        server = subprocess.Popen(
            [sys.executable, "-m", "jobs.serve", *sets],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"feast serve exited with {server.returncode}") from None
            time.sleep(0.5)
    server.kill()
    raise SystemExit("feast serve did not listen within 120 s")


def _http_latencies(
    port: int, service: str, drivers: np.ndarray, requests: int, at
) -> tuple[np.ndarray, int]:
    """Milliseconds per request on one kept-alive connection, and how many times the server
    closed it: a request it closed is sent again on a new connection, as a client pool does,
    and timed from its first try (feast serve replaces its worker every 1,000 requests)."""
    import http.client
    import json

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    rng = np.random.default_rng(7)
    seconds, reconnects = [], 0
    for i in range(100 + requests):
        entities = {"driver_id": [int(rng.choice(drivers))]}
        entities["request_timestamp"] = [int(at.timestamp())]  # feast serve needs it
        body = json.dumps({"feature_service": service, "entities": entities})
        began = time.perf_counter()
        for attempt in range(2):
            try:
                connection.request(
                    "POST", "/get-online-features", body, {"Content-Type": "application/json"}
                )
                answer = connection.getresponse()
                payload = answer.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                if attempt:
                    raise
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                reconnects += 1
        if answer.status != 200:
            raise SystemExit(f"the server answered {answer.status}: {payload[:500]!r}")
        if i >= 100:
            seconds.append(time.perf_counter() - began)
    connection.close()
    return np.array(seconds) * 1000, reconnects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="online-bench-"))
    write_trips(generate_trips(rows=args.rows, days=args.days, seed=42), root / "trips")
    with redis_on_loopback(root) as address:
        os.environ["TRIP_FEATURES_REDIS"] = address
        from definitions.feature_store import feature_store
        from jobs import compute_features, materialize, register
        from trip_features.runtime.session import get_spark

        shared = [f"paths.trips={root / 'trips'}", f"paths.features={root / 'features'}"]
        base = load_config("local", shared)
        spark = get_spark(base)
        compute_features.run(spark, base)
        # materialized up to the last trip, asked at it: the windows hold a week of trips
        end = pd.read_parquet(root / "trips", columns=["event_timestamp"])["event_timestamp"].max()
        end = pd.Timestamp(end)
        end = (end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")).ceil("s")
        stores, confs = {}, {}
        for name in ("sqlite", "redis"):
            overrides = store_overrides(name, shared, root)
            conf = load_config("local", overrides)
            register.run(conf)
            materialize.run(conf, start="2020-01-01", end=str(end))
            stores[name], confs[name] = feature_store(conf), (conf, overrides)
        drivers = pd.read_parquet(root / "features" / "driver_activity")["driver_id"].unique()
        rows = []
        for service in SERVICES:
            for name, store in stores.items():
                logging = store.serving_log
                for path, answers in (("in-process", logging), ("in-process, no log", None)):
                    store.serving_log = answers
                    ms = _latencies(store, service, drivers, args.requests, end)
                    rows.append((service, name, path, *np.percentile(ms, [50, 99]), ms.max(), 0))
                store.serving_log = logging
        spark.stop()
        for name, (conf, overrides) in confs.items():
            for kind in ("feast serve", "jobs.serve"):
                with serving(kind, conf, overrides, root / name / "repo") as port:
                    for service in SERVICES:
                        ms, closed = _http_latencies(port, service, drivers, args.requests, end)
                        row = (f"HTTP {kind}", *np.percentile(ms, [50, 99]), ms.max(), closed)
                        rows.append((service, name, *row))
    print(f"\nonline lookups, one driver per request, {args.requests} requests after warm-up")
    print(
        f"{'service':<20} {'store':<7} {'path':<18} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'closed':>6} {'p50 vs in-process sqlite':>25}"
    )
    base = {r[0]: r[3] for r in rows if r[1] == "sqlite" and r[2] == "in-process"}
    for service, name, path, p50, p99, most, closed in sorted(rows, key=lambda r: r[:3]):
        ratio = p50 / base[service]
        print(
            f"{service:<20} {name:<7} {path:<18} {p50:8.2f} {p99:8.2f} {most:8.2f} {closed:6d}"
            f" {ratio:24.2f}x"
        )
    print("closed: times the server closed the kept-alive connection (timed with the reconnect)")


if __name__ == "__main__":
    main()
