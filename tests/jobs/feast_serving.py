"""Asks `feast serve` or `jobs.serve`, started on a free loopback port and stopped by its pid, for
features."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from trip_features.runtime.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]


def latest_per_driver(table: pd.DataFrame) -> pd.DataFrame:
    """Each driver's latest row: what the online store must serve."""
    ordered = table.sort_values(["driver_id", "event_timestamp", "created"])
    return ordered.groupby("driver_id").tail(1).set_index("driver_id").sort_index()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_feast_serve(
    repo: Path, drivers: list[int], service: str = "driver_activity_v1", at: int | None = None
) -> dict:
    """Starts `feast -c repo serve`, posts one get-online-features request (asked at `at`, Unix
    seconds: feast serve needs the request time of the windows), stops the server."""
    entities = {"driver_id": drivers}
    if at is not None:
        entities["request_timestamp"] = [at] * len(drivers)
    body = {"feature_service": service, "entities": entities}
    return ask_feast_serve_all(repo, [body])[0]


def start_feast_serve(repo: Path, stderr=subprocess.DEVNULL) -> tuple[subprocess.Popen, int]:
    """`feast -c repo serve` on 127.0.0.1 and a free port (not waited for): the server, its port.
    The caller stops it by its pid."""
    port = _free_port()
    feast = Path(sys.executable).with_name("feast")
    server = subprocess.Popen(
        [str(feast), "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port)]
        + ["--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=PROJECT,
        env=dict(os.environ),
    )
    return server, port


def start_project_serve(conf: Settings, stderr=subprocess.DEVNULL) -> tuple[subprocess.Popen, int]:
    """`python -m jobs.serve` on 127.0.0.1 and a free port, over `conf`'s registry and online
    store (not waited for): the server, its port. The caller stops it by its pid."""
    port = _free_port()
    overrides = [
        f"paths.registry={conf.paths.registry}",
        f"paths.online_store={conf.paths.online_store}",
        f"serving.port={port}",
        *online_store_overrides(conf),
    ]
    server = subprocess.Popen(
        [sys.executable, "-m", "jobs.serve", *(a for o in overrides for a in ("--set", o))],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=PROJECT,
        env=dict(os.environ),
    )
    return server, port


def ask_feast_serve_all(repo: Path, bodies: list[dict]) -> list[dict]:
    """Starts `feast -c repo serve`, posts each get-online-features request body, stops the
    server (by its pid, also when a request fails)."""
    return ask_server_all(start_feast_serve(repo, stderr=subprocess.PIPE), bodies)


def ask_project_serve_all(conf: Settings, bodies: list[dict]) -> list[dict]:
    """The same through `python -m jobs.serve` over `conf`."""
    return ask_server_all(start_project_serve(conf, stderr=subprocess.PIPE), bodies)


def ask_server_all(started: tuple[subprocess.Popen, int], bodies: list[dict]) -> list[dict]:
    """Posts each request body to a started server, then stops it (by its pid, also when a
    request fails)."""
    server, port = started

    def post(body: dict) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/get-online-features",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        return json.loads(urllib.request.urlopen(request, timeout=5).read())

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                first = post(bodies[0])
                break
            except urllib.error.HTTPError:
                raise
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "feast serve did not answer within 120 s"
                time.sleep(0.1)
        return [first, *[post(body) for body in bodies[1:]]]
    finally:
        server.terminate()
        server.wait(timeout=30)


def served(answer: dict, feature: str) -> list:
    """The values `feast serve` answered for one feature, in entity order."""
    names = answer["metadata"]["feature_names"]
    return answer["results"][names.index(feature)]["values"]


def own_materialized(conf: Settings, folder: Path, end: str) -> dict:
    """`conf` with a registry and sqlite online store of its own under `folder`, registered and
    materialized up to `end`."""
    from jobs import materialize, register
    from trip_features.runtime.config import apply_override

    conf = apply_override(conf, f"paths.registry={folder / 'registry.db'}")
    conf = apply_override(conf, f"paths.online_store={folder / 'online.db'}")
    register.run(conf)
    materialize.run(conf, start="2026-01-01", end=end)
    return conf


def online_store_overrides(conf) -> list[str]:
    """conf's online store as `--set` overrides for a job in another process (durations in the
    ISO form conf reads back, e.g. PT0.5S)."""
    chosen = conf.feast.online_store.model_dump(mode="json", exclude_none=True)
    return [f"feast.online_store.{k}={v}" for k, v in chosen.items()]
