"""Windows at the moment asked, measured against the as-of join they replace, in one run.

    .venv/bin/python -m benchmarks.windows_vs_asof_join [--trips 10000000] [--entities 1000000]
        [--drivers 1000] [--repeats 2]

Offline: the same entity rows (random moments over 30 days) get the 5 driver windows of a per-trip
table of --trips rows, once by the as-of join of the table's rows (the old answer, the last trip's
windows; `trip_features.offline_store.asof_join`) and once by the windows at each row's own time
(`trip_features.offline_store.temporal_windows`), written to Spark's noop sink; best of --repeats
after a warm-up. Materialization: each driver's recent trips (7 days before the end) built from the
table and collected to Arrow, as Feast's materialization pulls them: source rows per second. Online:
the per-request work the windows add, for a driver with 1,000 and with 100,000 trips in 7 days:
decoding its two packed arrays from the online store's protobuf and computing the 5 windows
(`definitions.temporal_views._windows_at_request`), p50/p99 of 1,000 requests, and the bytes a
driver takes in the store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from trip_features.runtime.config import load_config
from trip_features.runtime.session import get_spark

START = pd.Timestamp("2026-01-01", tz="UTC")
DAYS = 30
PLAN = {
    "trips_1h": ["count", 3_600_000_000, None],
    "trips_24h": ["count", 86_400_000_000, None],
    "trips_7d": ["count", 7 * 86_400_000_000, None],
    "mean_dist_24h": ["mean", 86_400_000_000, "trip_dist"],
    "max_dist_24h": ["max", 86_400_000_000, "trip_dist"],
}


def _rows(spark, n: int, drivers: int, seed: int, with_features: bool):
    span = DAYS * 86_400 * 10**6
    frame = spark.range(n, numPartitions=8).select(
        F.col("id").alias("__feast_row"),
        (F.abs(F.hash(F.col("id"), F.lit(seed))) % drivers + 1000)
        .cast("bigint")
        .alias("driver_id"),
        F.timestamp_micros(F.lit(START.value // 1000) + (F.rand(seed) * span).cast("long")).alias(
            "event_timestamp"
        ),
    )
    if with_features:
        frame = frame.select(
            "driver_id",
            "event_timestamp",
            (F.col("event_timestamp") + F.expr("INTERVAL 5 MINUTES")).alias("created"),
            (F.rand(seed + 1) * 20).alias("trip_dist"),
            *[(F.rand(seed + 2 + i) * 50).cast("long").alias(name) for i, name in enumerate(PLAN)],
        )
    return frame


def _best(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def offline(spark, args) -> tuple[float, float, float]:
    from trip_features.offline_store.asof_join import ROW_ID, ViewJoin, point_in_time_join
    from trip_features.offline_store.temporal_windows import recent_trips, with_windows_at_rows

    folder = f"/tmp/temporal-bench-{args.trips}"
    _rows(spark, args.trips, args.drivers, 1, True).write.mode("overwrite").parquet(folder)
    table = spark.read.parquet(folder)
    entities = _rows(spark, args.entities, args.drivers, 7, False).cache()
    entities.count()
    view = ViewJoin(
        name="driver_activity",
        source=table,
        keys={"driver_id": "driver_id"},
        timestamp="event_timestamp",
        created="created",
        features={name: name for name in PLAN},
    )

    def as_of() -> None:
        point_in_time_join(entities, "event_timestamp", [view]).write.format("noop").mode(
            "overwrite"
        ).save()

    def temporal() -> None:
        plan = {n: tuple(v) for n, v in PLAN.items()}
        with_windows_at_rows(
            entities,
            ROW_ID,
            "driver_id",
            "event_timestamp",
            table,
            "driver_id",
            "event_timestamp",
            plan,
            {n: n for n in PLAN},
        ).write.format("noop").mode("overwrite").save()

    seconds_as_of = _best(as_of, args.repeats)
    seconds_temporal = _best(temporal, args.repeats)
    end = (START + pd.Timedelta(days=DAYS)).to_pydatetime()
    recipe = {"window_us": PLAN["trips_7d"][1], "measures": ["trip_dist"], "times": "t"}

    def pull() -> None:
        recent_trips(table, "driver_id", "event_timestamp", "created", recipe, end).toArrow()

    seconds_pull = _best(pull, args.repeats)
    in_window = table.where(F.col("event_timestamp") > F.lit(end - dt.timedelta(days=7))).count()
    return seconds_as_of, seconds_temporal, in_window / seconds_pull


def online(trips_in_week: int, requests: int = 1000) -> tuple[float, float, int]:
    """p50 and p99 ms of decoding a driver's arrays and computing its windows, and its bytes."""
    from feast.protos.feast.types.Value_pb2 import Value

    from definitions.temporal_views import _windows_at_request

    rng = np.random.default_rng(3)
    now = START + pd.Timedelta(days=8)
    week = 7 * 86_400_000_000
    times = np.sort(now.value // 1000 - rng.integers(0, week, trips_in_week))
    stored, dists = Value(), Value()
    stored.bytes_val = times.astype("<i8").tobytes()
    dists.bytes_val = rng.uniform(0.5, 20, trips_in_week).astype("<f8").tobytes()
    blobs = [stored.SerializeToString(), dists.SerializeToString()]
    seconds = []
    for _ in range(requests):
        began = time.perf_counter()
        decoded_times, decoded_dists = Value(), Value()
        decoded_times.ParseFromString(blobs[0])
        decoded_dists.ParseFromString(blobs[1])
        inputs = {
            "recent_trip_times_us": [decoded_times.bytes_val],
            "recent_trip_dist": [decoded_dists.bytes_val],
            "request_timestamp": [now.to_pydatetime()],
        }
        _windows_at_request(inputs, PLAN)
        seconds.append(time.perf_counter() - began)
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), sum(len(b) for b in blobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--drivers", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    spark = get_spark(load_config("local"))
    spark.sparkContext.setLogLevel("ERROR")
    as_of, temporal, pulled = offline(spark, args)
    print(
        f"\noffline: {args.entities:,} entity rows x {args.trips:,} trips ({args.drivers} drivers)"
    )
    print(f"  as-of join of the per-trip table (last trip's windows)  {as_of:8.1f} s   1.00x")
    print(
        f"  windows at each row's time                             {temporal:8.1f} s   {temporal / as_of:.2f}x"
    )
    print(f"materialization of recent trips: {pulled:,.0f} source rows/s")
    print("online, per request (decode the driver's arrays, compute 5 windows):")
    for trips in (1_000, 100_000):
        p50, p99, size = online(trips)
        print(f"  {trips:>7,} trips in 7 days: p50 {p50:.3f} ms  p99 {p99:.3f} ms  {size:,} bytes")


if __name__ == "__main__":
    main()
