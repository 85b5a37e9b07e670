"""The single-machine peer of the feature job: the same two tables in Polars, exact to the oracles
(tests/oracles.py), with the same quality rules, written as date-partitioned parquet.

    .venv/bin/python -m benchmarks.polars_peer --trips data/trips --out /tmp/peer

The tie rule (a trip's windows hold the trips at or before it in (event_timestamp, trip_id)
order) is kept exactly: windows by time include every trip at the same second, so the trips of
the same second that come later are taken out again: per driver with (t - w, t) windows plus
running values within the second; for the global percentile by subtracting, from the window's
average rank, the later trips of the same second that are smaller or equal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import polars as pl

COLUMNS = ["trip_id", "event_timestamp", "driver_id", "rider_id", "trip_dist", "created"]
DRIVER_WINDOWS = {  # name -> (aggregation, window)
    "trips_1h": ("count", "1h"),
    "trips_24h": ("count", "24h"),
    "trips_7d": ("count", "7d"),
    "mean_dist_24h": ("mean", "24h"),
    "max_dist_24h": ("max", "24h"),
}
PERCENTILE = ("percentile_dist_rolling_3h", "3h")


def checked(trips: pl.LazyFrame, now: dt.datetime, max_km: float = 500.0) -> pl.LazyFrame:
    """Trips with `reason`: the first quality rule each breaks (null: accepted), as the project's
    default rules: missing distances are kept, every other rule quarantines."""
    ts, dist = pl.col("event_timestamp"), pl.col("trip_dist")
    copy = pl.int_range(pl.len()).over(COLUMNS) > 0
    differs = (pl.len().over("trip_id") > 1) & (pl.struct(COLUMNS).n_unique().over("trip_id") > 1)
    limit = now + dt.timedelta(hours=1)
    reason = (
        pl.when(ts.is_null())
        .then(pl.lit("null_timestamp"))
        .when(pl.col("trip_id").is_null() | pl.col("driver_id").is_null())
        .then(pl.lit("null_key"))
        .when(dist < 0)
        .then(pl.lit("negative_distance"))
        .when(dist > max_km)
        .then(pl.lit("absurd_distance"))
        .when(ts > pl.lit(limit).dt.replace_time_zone("UTC"))
        .then(pl.lit("future_timestamp"))
        .when(pl.col("created") < ts)
        .then(pl.lit("created_before_event"))
        .when(copy)
        .then(pl.lit("duplicate_row"))
        .when(differs)
        .then(pl.lit("duplicate_trip_id"))
    )
    return trips.with_columns(dist.fill_nan(None)).with_columns(reason.alias("reason"))


def calendar(frame: pl.LazyFrame) -> pl.LazyFrame:
    ts = pl.col("event_timestamp")
    day = ts.dt.weekday() - 1  # Monday = 0
    return frame.with_columns(
        day.cast(pl.Int32).alias("day_of_week"),
        (day >= 5).cast(pl.Int32).alias("is_weekend"),
        ts.dt.hour().cast(pl.Int32).alias("hour_of_day"),
    )


def percentile(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The average-rank percentile of trip_dist among the trips of the trailing window."""
    name, window = PERCENTILE
    dist, ts = pl.col("trip_dist"), pl.col("event_timestamp")
    ranked = frame.sort("event_timestamp", "trip_id").with_columns(
        dist.rolling_rank_by(ts, window, method="average").alias("__rank"),
        dist.is_not_null().cast(pl.Int64).rolling_sum_by(ts, window).alias("__n"),
    )
    # The later trips of the same second: in every window above, not in the trip's own.
    same = ranked.select("trip_id", "event_timestamp", "trip_dist").filter(
        pl.len().over("event_timestamp") > 1
    )
    later = (
        same.join(same, on="event_timestamp", suffix="_later")
        .filter(pl.col("trip_id_later") > pl.col("trip_id"))
        .group_by("trip_id")
        .agg(
            (pl.col("trip_dist_later") < dist).sum().alias("__less"),
            (pl.col("trip_dist_later") == dist).sum().alias("__equal"),
            pl.col("trip_dist_later").is_not_null().sum().alias("__more"),
        )
    )
    fixed = ranked.join(later, on="trip_id", how="left").with_columns(
        pl.col("__less", "__equal", "__more").fill_null(0)
    )
    rank = pl.col("__rank") - pl.col("__less") - pl.col("__equal") / 2
    value = pl.when(dist.is_null()).then(None).otherwise(rank / (pl.col("__n") - pl.col("__more")))
    return fixed.with_columns(value.alias(name)).drop(
        "__rank", "__n", "__less", "__equal", "__more"
    )


def driver_windows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Counts, means and maxima over each driver's trips in (t - w, t]: (t - w, t) by time, plus
    the trips of the same second up to this one (running values in trip_id order)."""
    dist, ts = pl.col("trip_dist"), pl.col("event_timestamp")
    ordered = frame.sort("driver_id", "event_timestamp", "trip_id")
    second = ["driver_id", "event_timestamp"]
    present = dist.is_not_null().cast(pl.Int64)
    columns = []
    for name, (how, window) in DRIVER_WINDOWS.items():
        if how == "count":
            trip = pl.col("trip_id").is_not_null().cast(pl.Int64)  # 1 per accepted trip
            before = trip.rolling_sum_by(ts, window, closed="none").over("driver_id")
            columns.append(
                (before.fill_null(0) + pl.int_range(1, pl.len() + 1).over(second)).alias(name)
            )
        elif how == "mean":
            total = dist.fill_null(0).rolling_sum_by(ts, window, closed="none").over("driver_id")
            count = present.rolling_sum_by(ts, window, closed="none").over("driver_id")
            total = total.fill_null(0) + dist.fill_null(0).cum_sum().over(second)
            count = count.fill_null(0) + present.cum_sum().over(second)
            columns.append(pl.when(count > 0).then(total / count).alias(name))
        else:
            before = dist.rolling_max_by(ts, window, closed="none").over("driver_id")
            columns.append(pl.max_horizontal(before, dist.cum_max().over(second)).alias(name))
    return ordered.with_columns(columns)


def run(trips: str, out: str, now: dt.datetime | None = None) -> dict[str, int]:
    """Reads the trips, writes both tables and the quarantine under `out`; rows per table."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    source = pl.scan_parquet(f"{trips}/**/*.parquet", hive_partitioning=False).select(COLUMNS)
    rows = checked(source, now).collect()
    accepted = rows.filter(pl.col("reason").is_null()).drop("reason").lazy()
    tables = {
        "trips_stats_3h": percentile(calendar(accepted)),
        "driver_activity": driver_windows(accepted),
        "quarantine": rows.filter(pl.col("reason").is_not_null()).lazy(),
    }
    written = {}
    for name, table in tables.items():
        frame = table.with_columns(pl.col("event_timestamp").dt.date().alias("date")).collect()
        frame = frame.sort("date", "event_timestamp", "trip_id")
        for (date,), part in frame.group_by("date", maintain_order=True):
            folder = Path(out, name, f"date={date or 'unknown'}")
            folder.mkdir(parents=True, exist_ok=True)
            part.drop("date").write_parquet(folder / "part-00000.parquet")
        written[name] = frame.height
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    began = time.perf_counter()
    written = run(args.trips, args.out)
    print(f"{written} in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
