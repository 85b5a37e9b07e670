"""Lookups never fail because a materialization runs or was killed: while `jobs.materialize` loads
newer rows in another process, every answer is a 200 and gives each driver either its old row or
its new one, whole (never a mix of the two, never an error); after a materialization killed in
the middle of a view, the view keeps serving its old rows until a run completes it."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from jobs import materialize
from tests.feature_serving.conftest import FULL_END, post, running_server
from tests.jobs.feast_serving import PROJECT, latest_per_driver, online_store_overrides
from tests.shipped_catalogue import WINDOWS
from trip_features.runtime.config import apply_override
from trip_features.runtime.settings import Settings

ACTIVITY = WINDOWS  # every window the catalogue declares
EARLY_END = "2026-01-07"
# Each driver's latest per-trip row: the store's mechanics (old row or new, whole) are tested on
# it; the windows at request time are computed from rows written the same way.
PER_TRIP = [f"driver_activity:{name}" for name in ACTIVITY]
ASKED = "2026-01-07T00:00:00Z"  # the lookups' moment (the per-trip view's ttl counts from it)

pytestmark = pytest.mark.slow


def _fresh(conf: Settings, tmp, store: str) -> dict:
    """conf over a registry (and sqlite file, or Redis database 2) of the test's own, holding the
    early range only."""
    shutil.copy(conf.paths.registry, tmp / "registry.db")
    conf = apply_override(conf, f"paths.registry={tmp / 'registry.db'}")
    if store == "sqlite":
        shutil.copy(conf.paths.online_store, tmp / "online.db")
        conf = apply_override(conf, f"paths.online_store={tmp / 'online.db'}")
    else:
        import redis

        host, port = os.environ["TRIP_FEATURES_REDIS"].split(":")
        redis.Redis(host=host, port=int(port), db=2).flushdb()
        conf = apply_override(
            conf, "feast.online_store.connection_string=${TRIP_FEATURES_REDIS},db=2"
        )
    materialize.run(conf, start="2026-01-01", end=EARLY_END)
    return conf


def _job(conf: Settings, kill_at: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    if kill_at:
        env["TRIP_FEATURES_KILL_AT"] = kill_at
    overrides = [f"paths.{k}={getattr(conf.paths, k)}" for k in ("trips", "features", "registry")]
    overrides += [f"paths.online_store={conf.paths.online_store}"]
    overrides += online_store_overrides(conf)
    overrides += ["spark.conf.spark.sql.shuffle.partitions=2"]
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.materialize", "--start", "2026-01-01", "--end", FULL_END]
        + [a for o in overrides for a in ("--set", o)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(answer: dict) -> list[tuple]:
    names = answer["metadata"]["feature_names"]
    columns = [answer["results"][names.index(f)]["values"] for f in ACTIVITY]
    return [
        tuple(None if v is None else float(v) for v in row) for row in zip(*columns, strict=True)
    ]


def _as_rows(table: pd.DataFrame, drivers: list[int]) -> list[tuple]:
    """What the per-trip view serves asked at ASKED: each driver's latest row, null past the
    view's 1-day ttl."""
    fresh = table["event_timestamp"] >= pd.Timestamp(ASKED) - pd.Timedelta("1d")
    return [
        tuple(None if pd.isna(v) else float(v) for v in table.loc[d, ACTIVITY])
        if d in table.index and fresh[d]
        else (None,) * len(ACTIVITY)
        for d in drivers
    ]


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_every_lookup_during_a_materialization_is_answered_old_or_new_per_driver(
    feast_conf, redis_conf, tmp_path, store
):
    base = feast_conf[0] if store == "sqlite" else redis_conf[0]
    conf = _fresh(base, tmp_path, store)
    activity = pd.read_parquet(feast_conf[1] / "features" / "driver_activity")
    drivers = sorted(activity["driver_id"].unique().tolist())
    early_cut = pd.Timestamp(EARLY_END, tz="UTC")
    old = _as_rows(latest_per_driver(activity[activity["event_timestamp"] < early_cut]), drivers)
    new = _as_rows(latest_per_driver(activity), drivers)
    assert sum(o != n for o, n in zip(old, new, strict=True)) > len(drivers) // 2  # a real change
    body = {
        "features": PER_TRIP,
        "entities": {"driver_id": drivers, "request_timestamp": [ASKED] * len(drivers)},
    }
    with running_server(conf, "serving.registry_ttl_seconds=1") as (port, _):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        job = _job(conf)
        answers = 0
        # the job's output read while it runs (a full pipe would stall it), for at most 10 min
        with ThreadPoolExecutor(max_workers=1) as pool:
            ended = pool.submit(job.communicate, timeout=600)
            try:
                while not ended.done():
                    status, answer = post(connection, body)
                    assert status == 200, answer
                    rows = _rows(answer)
                    for driver, row, before, after in zip(drivers, rows, old, new, strict=True):
                        assert row in (before, after), f"driver {driver}: {row} is neither row"
                    answers += 1
            finally:
                if not ended.done():
                    job.kill()
            err = ended.result()[1]
        assert job.returncode == 0, err[-3000:]
        status, answer = post(connection, body)
    assert status == 200 and _rows(answer) == new
    assert answers > 10, f"only {answers} lookups ran during the materialization"


def test_a_materialization_killed_inside_a_view_leaves_it_served_until_completed(
    feast_conf, tmp_path
):
    conf = _fresh(feast_conf[0], tmp_path, "sqlite")
    activity = pd.read_parquet(feast_conf[1] / "features" / "driver_activity")
    drivers = sorted(activity["driver_id"].unique().tolist())
    early_cut = pd.Timestamp(EARLY_END, tz="UTC")
    old = _as_rows(latest_per_driver(activity[activity["event_timestamp"] < early_cut]), drivers)
    new = _as_rows(latest_per_driver(activity), drivers)
    body = {
        "features": PER_TRIP,
        "entities": {"driver_id": drivers, "request_timestamp": [ASKED] * len(drivers)},
    }
    killed = _job(conf, kill_at="online_write:driver_activity")
    _, err = killed.communicate(timeout=600)
    assert killed.returncode == -9, err[-3000:]
    from definitions.feature_store import feature_store

    state = feature_store(conf).get_feature_view("driver_activity").state.name
    assert state == "MATERIALIZING"  # what Feast's own server refuses to serve
    with running_server(conf, "serving.registry_ttl_seconds=1") as (port, _):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(3):
            status, answer = post(connection, body)
            assert status == 200, answer
            assert _rows(answer) == old
        # Completed by the next run, in this process (the server runs in its own)
        materialize.run(conf, start="2026-01-01", end=FULL_END)
        time.sleep(1.5)  # the server reads the registry again
        # A new connection: the job may outlast the server's keep-alive (30 s), which closes an
        # idle one, as it would any client's.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, answer = post(connection, body)
        assert status == 200 and _rows(answer) == new
