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

try:
    import polars as pl
except ImportError as err:  # the bench extra, not a dependency of the project
    raise SystemExit(
        "the Polars peer needs polars: .venv/bin/python -m pip install -e '.[bench]'"
    ) from err

COLUMNS = ["trip_id", "event_timestamp", "driver_id", "rider_id", "trip_dist", "created"]
DRIVER_WINDOWS = {  # name -> (aggregation, window)
    "trips_1h": ("count", "1h"),
    "trips_24h": ("count", "24h"),
    "trips_7d": ("count", "7d"),
    "mean_dist_24h": ("mean", "24h"),
    "max_dist_24h": ("max", "24h"),
}
PERCENTILE = ("percentile_dist_rolling_3h", "3h")
KEYS = ["trip_id", "driver_id", "event_timestamp", "created"]  # the project tables' leading columns
CALENDAR = ["day_of_week", "is_weekend", "hour_of_day"]
ROWS_LIMIT = 2**31  # more rows than any input has: a key step no same-second window crosses


def checked(trips: pl.LazyFrame, now: dt.datetime, max_km: float = 500.0) -> pl.LazyFrame:
    """Trips with `reason`: the first quality rule each breaks (null: accepted), as the project's
    default rules: missing distances are kept, every other rule quarantines. Copies are looked
    for only among the rows of repeated trip ids (normally none)."""
    ts, dist = pl.col("event_timestamp"), pl.col("trip_dist")
    trips = trips.with_columns(
        dist.fill_nan(None), pl.col("trip_id").is_duplicated().alias("__rep")
    )
    repeated = (
        trips.filter("__rep")
        .with_columns(
            (~pl.struct(COLUMNS).is_first_distinct()).alias("__copy"),
            (pl.struct(COLUMNS).n_unique().over("trip_id") > 1).alias("__differs"),
        )
        .drop("__rep")
    )
    single = trips.filter(~pl.col("__rep")).drop("__rep")
    single = single.with_columns(pl.lit(False).alias("__copy"), pl.lit(False).alias("__differs"))
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
        .when("__copy")
        .then(pl.lit("duplicate_row"))
        .when("__differs")
        .then(pl.lit("duplicate_trip_id"))
    )
    both = pl.concat([single, repeated])
    return both.with_columns(reason.alias("reason")).drop("__copy", "__differs")


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
    """Counts, means and maxima over each driver's trips in (t - w, t]: the trips in (t - w, t)
    plus those of the same second up to this one in trip_id order. Each part is one rolling pass
    over all drivers at once, by an integer key that no window crosses between drivers (the
    driver's number times a span longer than any window, plus the time) or between seconds (the
    second's number times the row count, plus the row's position)."""
    dist = pl.col("trip_dist")
    micros = pl.col("event_timestamp").dt.epoch("us")
    longest = max(_micros(w) for _, w in DRIVER_WINDOWS.values())
    span = micros.max() - micros.min() + longest + 1
    starts_second = (pl.col("driver_id").diff().fill_null(1) != 0) | (
        micros.diff().fill_null(1) != 0
    )
    ordered = frame.sort("driver_id", "event_timestamp", "trip_id").with_columns(
        (pl.col("driver_id") * span + (micros - micros.min())).alias("__time"),
        (starts_second.cast(pl.Int64).cum_sum() * ROWS_LIMIT + pl.int_range(pl.len())).alias(
            "__second"
        ),
    )

    def before(value: pl.Expr, how: str, window: str) -> pl.Expr:
        rolling = value.rolling_max_by if how == "max" else value.rolling_sum_by
        return rolling("__time", f"{_micros(window)}i", closed="none")

    def same_second(value: pl.Expr, how: str) -> pl.Expr:
        rolling = value.rolling_max_by if how == "max" else value.rolling_sum_by
        return rolling("__second", f"{ROWS_LIMIT}i")

    present = dist.is_not_null().cast(pl.Int64)
    trip = pl.col("trip_id").is_not_null().cast(pl.Int64)  # 1 per accepted trip
    columns = []
    for name, (how, window) in DRIVER_WINDOWS.items():
        if how == "count":
            columns.append((before(trip, "sum", window) + same_second(trip, "sum")).alias(name))
        elif how == "mean":
            total = before(dist.fill_null(0), "sum", window) + same_second(dist.fill_null(0), "sum")
            count = before(present, "sum", window) + same_second(present, "sum")
            columns.append(pl.when(count > 0).then(total / count).alias(name))
        else:
            both = [before(dist, "max", window), same_second(dist, "max")]
            columns.append(pl.max_horizontal(both).alias(name))
    return ordered.with_columns(columns).drop("__time", "__second")


def _micros(window: str) -> int:
    return int(
        dt.timedelta(
            **{{"h": "hours", "d": "days", "m": "minutes"}[window[-1]]: int(window[:-1])}
        ).total_seconds()
        * 1_000_000
    )


def run(trips: str, out: str, now: dt.datetime | None = None) -> dict[str, int]:
    """Reads the trips, writes both tables and the quarantine under `out`; rows per table."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    source = pl.scan_parquet(f"{trips}/**/*.parquet", hive_partitioning=False).select(COLUMNS)
    rows = checked(source, now).collect()
    accepted = rows.filter(pl.col("reason").is_null()).drop("reason").lazy()
    tables = {
        "trips_stats_3h": percentile(calendar(accepted)).select(*KEYS, *CALENDAR, PERCENTILE[0]),
        "driver_activity": driver_windows(accepted).select(*KEYS, *DRIVER_WINDOWS),
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
