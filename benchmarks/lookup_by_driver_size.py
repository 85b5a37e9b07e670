"""Whole online lookups of the windows at the moment asked, for an ordinary, a busy and a hot
driver, through the store and `jobs.serve`, on the embedded sqlite store and on Redis:

    .venv/bin/python -m benchmarks.lookup_by_driver_size [--requests 1000]

Sample trips of 7 days (500 drivers, 50,000 trips) and two more drivers: one with 1,000 trips and
one with 100,000 trips in those 7 days. Computed, registered and materialized up to the last trip
into each store (a redis-server on a free loopback port, stopped by its pid), then per store and
driver: --requests sequential lookups of `driver_activity_v1` (the 5 windows) asked at the last
trip, after 100 warm-up ones, in process (`get_online_features`) and over HTTP on one kept-alive
connection to `jobs.serve` (loopback, stopped by its pid). Prints p50, p99 and max in ms, the
bytes the driver's recent trips take in the store (the packed arrays), and p50 against the
ordinary driver's in-process p50 on the same store.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.online_lookup import (
    _http_latencies,
    _latencies,
    redis_on_loopback,
    serving,
    store_overrides,
)
from trip_features.runtime.config import load_config
from trip_features.storage.sample_trips import generate_trips, write_trips

SERVICE = "driver_activity_v1"
BUSY, HOT = 900_001, 900_002
DRIVERS = {"ordinary (median)": None, "1,000 trips/7 d": BUSY, "100,000 trips/7 d": HOT}


def _trips() -> pd.DataFrame:
    """The sample's drivers, and a busy and a hot one over the same 7 days."""
    parts = [generate_trips(rows=50_000, days=7, seed=1, drivers=500)]
    for driver, rows, seed in ((BUSY, 1_000, 2), (HOT, 100_000, 3)):
        part = generate_trips(rows=rows, days=7, seed=seed, drivers=1)
        part["driver_id"] = driver
        part["trip_id"] += parts[-1]["trip_id"].max()
        parts.append(part)
    return pd.concat(parts).sort_values(["event_timestamp", "trip_id"]).reset_index(drop=True)


def _stored_bytes(store, driver: int, at) -> int:
    """The bytes of a driver's packed arrays (times and distances) in the online store."""
    refs = [
        "driver_activity_recent_trips:recent_trip_times_us",
        "driver_activity_recent_trips:recent_trip_dist",
    ]
    answer = store.get_online_features(refs, [{"driver_id": driver, "request_timestamp": at}])
    return sum(len(v.values[0].bytes_val) for v in answer.proto.results[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lookup-size-bench-"))
    trips = _trips()
    write_trips(trips, root / "trips")
    week = trips[trips["event_timestamp"] > trips["event_timestamp"].max() - pd.Timedelta("7d")]
    counts = week.groupby("driver_id").size()
    ordinary = int(counts.drop([BUSY, HOT]).sort_values().index[len(counts) // 2])
    drivers = {name: driver or ordinary for name, driver in DRIVERS.items()}
    end = pd.Timestamp(trips["event_timestamp"].max()).tz_convert("UTC").ceil("s")
    rows = []
    with redis_on_loopback(root) as address:
        os.environ["TRIP_FEATURES_REDIS"] = address
        from definitions.feature_store import feature_store
        from jobs import compute_features, materialize, register
        from trip_features.runtime.session import get_spark

        shared = [f"paths.trips={root / 'trips'}", f"paths.features={root / 'features'}"]
        spark = get_spark(load_config("local", shared))
        compute_features.run(spark, load_config("local", shared))
        spark.stop()
        for name in ("sqlite", "redis"):
            overrides = store_overrides(name, shared, root)
            conf = load_config("local", overrides)
            register.run(conf)
            materialize.run(conf, start="2020-01-01", end=str(end))
            store = feature_store(conf)
            for label, driver in drivers.items():
                ms = _latencies(store, SERVICE, np.array([driver]), args.requests, end)
                size = _stored_bytes(store, driver, end)
                rows.append((name, label, "in-process", ms, size, int(counts[driver])))
            with serving("jobs.serve", conf, overrides, root / name / "repo") as port:
                for label, driver in drivers.items():
                    ms, _ = _http_latencies(port, SERVICE, np.array([driver]), args.requests, end)
                    rows.append((name, label, "HTTP jobs.serve", ms, 0, int(counts[driver])))
    print(f"\n{SERVICE} lookups of one driver, asked at its last trip, {args.requests} requests")
    print(
        f"{'store':<7} {'driver':<18} {'trips/7d':>8} {'path':<16} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'max ms':>7} {'bytes':>10} {'p50 vs ordinary':>16}"
    )
    base = {
        r[0]: np.percentile(r[3], 50)
        for r in rows
        if r[1] == "ordinary (median)" and r[2] == "in-process"
    }
    for name, label, path, ms, size, trips_in_week in rows:
        p50, p99 = np.percentile(ms, [50, 99])
        shown = f"{size:,}" if size else ""
        print(
            f"{name:<7} {label:<18} {trips_in_week:>8,} {path:<16} {p50:7.2f} {p99:7.2f}"
            f" {ms.max():7.2f} {shown:>10} {p50 / base[name]:15.2f}x"
        )


if __name__ == "__main__":
    main()
