"""Synthetic trips: deterministic (same arguments, same bytes), with ties and a few nulls.

Trips follow a daily and weekly rhythm, ~1,000 drivers of very different activity, many riders,
whole-second timestamps (so many exact ties, globally and per driver) and a few null distances.
The table is parquet with microsecond UTC timestamps, one folder per date (`date=YYYY-MM-DD`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Relative demand by weekday (Monday first) and by hour of day (UTC).
WEEKDAY_WEIGHTS = np.array([0.90, 0.92, 0.95, 1.00, 1.20, 1.35, 1.05])
HOUR_WEIGHTS = np.array(
    [3, 2, 1.5, 1, 1, 1.5, 3, 6, 9, 7, 5, 5, 6, 5, 5, 6, 7, 9, 10, 8, 7, 6, 5, 4], dtype=float
)
SAME_MOMENT_FRACTION = 0.005  # trips that share the exact timestamp of another trip of their driver

TRIPS_SCHEMA = pa.schema(
    [
        ("trip_id", pa.int64()),
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("driver_id", pa.int64()),
        ("rider_id", pa.int64()),
        ("trip_dist", pa.float64()),
        ("created", pa.timestamp("us", tz="UTC")),
    ]
)


def generate_trips(
    rows: int,
    days: int,
    seed: int,
    start: str = "2026-01-05",
    drivers: int = 1000,
    riders: int = 200_000,
    null_dist_fraction: float = 0.001,
) -> pd.DataFrame:
    """Returns the trips, sorted by (event_timestamp, trip_id)."""
    if rows < 1 or days < 1 or drivers < 1 or riders < 1:
        raise ValueError("rows, days, drivers and riders must all be at least 1")
    if not 0 <= null_dist_fraction < 1:
        raise ValueError("null_dist_fraction must be in [0, 1)")
    rng = np.random.default_rng(seed)
    start_s = pd.Timestamp(start, tz="UTC").normalize().value // 10**9

    day_weekdays = (pd.Timestamp(start, tz="UTC").dayofweek + np.arange(days)) % 7
    day_p = WEEKDAY_WEIGHTS[day_weekdays] / WEEKDAY_WEIGHTS[day_weekdays].sum()
    day = rng.choice(days, size=rows, p=day_p)
    hour = rng.choice(24, size=rows, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    second = rng.integers(0, 3600, size=rows)
    ts_s = start_s + day * 86_400 + hour * 3_600 + second

    activity = 1.0 / np.arange(1, drivers + 1) ** 0.8  # a few very busy drivers, a long tail
    driver_id = (
        1_000
        + rng.permutation(drivers)[rng.choice(drivers, size=rows, p=activity / activity.sum())]
    )

    tied = rng.random(rows) < SAME_MOMENT_FRACTION
    source = rng.integers(0, rows, size=int(tied.sum()))
    ts_s[tied] = ts_s[source]
    driver_id[tied] = driver_id[source]

    trip_dist = np.round(rng.lognormal(mean=1.2, sigma=0.7, size=rows), 2)
    trip_dist[rng.random(rows) < null_dist_fraction] = np.nan
    created_us = ts_s * 10**6 + rng.integers(1, 900 * 10**6, size=rows)

    trip_id = rng.permutation(rows).astype(np.int64) + 1
    rider_id = rng.integers(1, riders + 1, size=rows).astype(np.int64)
    order = np.lexsort((trip_id, ts_s))
    return pd.DataFrame(
        {
            "trip_id": trip_id[order],
            "event_timestamp": pd.to_datetime(ts_s[order] * 10**6, unit="us", utc=True),
            "driver_id": driver_id[order].astype(np.int64),
            "rider_id": rider_id[order],
            "trip_dist": trip_dist[order],
            "created": pd.to_datetime(created_us[order], unit="us", utc=True),
        }
    )


def write_trips(trips: pd.DataFrame, out: str | os.PathLike, overwrite: bool = False) -> int:
    """Writes trips as parquet, one `date=` folder per day, swapping the folder in whole."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty: pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not trips["event_timestamp"].is_monotonic_increasing:  # one folder per day needs order
        trips = trips.sort_values(["event_timestamp", "trip_id"], kind="stable", ignore_index=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    table = pa.Table.from_pandas(trips, schema=TRIPS_SCHEMA, preserve_index=False)
    micros = trips["event_timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    days = micros // 86_400_000_000
    bounds = np.flatnonzero(days[1:] != days[:-1]) + 1  # trips are in time order
    written = 0
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(trips)], strict=True):
        part = staging / f"date={np.datetime64(int(days[lo]), 'D')}"
        part.mkdir()
        chunk = table.slice(lo, hi - lo)
        pq.write_table(
            chunk,
            part / "part-00000.parquet",
            coerce_timestamps="us",
            row_group_size=1 << 20,
            compression="snappy",
        )
        written += chunk.num_rows
    if written != len(trips):
        raise AssertionError(f"wrote {written} of {len(trips)} trips")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return written
