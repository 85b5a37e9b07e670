"""Global rolling features: every trip compared with all trips of the trailing window.

Trips are ordered by (event_timestamp, trip_id). A trip's window holds the trips at or before it
in that order whose event time is in (t - window, t]. One body computes it (`_rolling_percentile`,
equal to pandas' `rolling(window).rank(pct=True)` on the sorted trips, and O(n log n));
pandas runs it on the whole table, Spark on time buckets that each also read one window of the
bucket before (the halo), so the result is the same trip for trip.
"""

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from hamilton.function_modifiers import ResolveAt, config, parameterize, resolve, value
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf

from transforms.kernels.arrow_columns import by_whole_runs, nan_as_null
from transforms.kernels.time_columns import DAY_US, PARTITION_COLUMN, to_micros, window_micros
from transforms.kernels.window_kernels import ranked_in_sorted_buckets, rolling_percentile_rank


def _rolling_percentile(
    ts_us: np.ndarray, trip_id: np.ndarray, dist: np.ndarray, window_us: int
) -> np.ndarray:
    """Average-method percentile rank of each distance in its trailing window (NaN stays NaN)."""
    order = np.lexsort((trip_id, ts_us))
    ranked = rolling_percentile_rank(ts_us[order], dist[order], window_us)
    out = np.empty(len(order), dtype=np.float64)
    out[order] = ranked
    return out


@resolve(
    when=ResolveAt.CONFIG_AVAILABLE,
    decorate_with=lambda percentile_windows: parameterize(
        **{
            name: {"window": value(window), "feature": value(name)}
            for name, window in percentile_windows.items()
        }
    ),
)
@config.when(engine="pandas")
def rolling_percentile__pandas(
    event_timestamp: pd.Series, trip_id: pd.Series, trip_dist: pd.Series, window: str, feature: str
) -> pd.Series:
    """Percentile rank of the trip's distance among all trips of the trailing {window}."""
    ranked = _rolling_percentile(
        to_micros(event_timestamp),
        trip_id.to_numpy(np.int64),
        trip_dist.to_numpy(np.float64, na_value=np.nan),
        window_micros(window),
    )
    return pd.Series(ranked, index=trip_dist.index, name=feature)


def _bucket(micros, bucket_us: int):
    """Floor division in longs: exact for any time, and rounding down before 1970 too."""
    return F.call_function("div", micros - F.pmod(micros, F.lit(bucket_us)), F.lit(bucket_us))


def _percentile_udf(windows_us: dict[str, int]):
    """An Arrow UDF over rows sorted by (bucket, time, trip id) that ranks each bucket once it
    has arrived whole, for every window: three columns cross into Python, a struct comes back."""
    fields = [pa.field(name, pa.float64()) for name in windows_us]

    def rank(bucket: np.ndarray, ts_us: np.ndarray, dist: np.ndarray) -> pa.Array:
        ranks = [
            nan_as_null(ranked_in_sorted_buckets(bucket, ts_us, dist, window_us))
            for window_us in windows_us.values()
        ]
        return pa.StructArray.from_arrays(ranks, fields=fields)

    ddl = ", ".join(f"{name}: double" for name in windows_us)

    @arrow_udf(f"struct<{ddl}>")
    def ranked(batches: Iterator[tuple[pa.Array, pa.Array, pa.Array]]) -> Iterator[pa.Array]:
        yield from by_whole_runs(batches, rank)

    # Not deterministic for Spark: a row's value depends on its neighbours, so no filter may be
    # pushed below it (the halo rows must reach it).
    return ranked.asNondeterministic()


@config.when(engine="spark")
def trips_ranked__spark(
    trips: DataFrame, percentile_windows: dict[str, str], percentile_bucket: str
) -> DataFrame:
    """Trips (id, driver, times) with the rolling percentiles, ranked per time bucket and laid out
    for writing: each `date` in one partition, rows in (event_timestamp, trip_id) order."""
    windows_us = {name: window_micros(w) for name, w in percentile_windows.items()}
    window_us = max(windows_us.values(), default=1)  # the halo: the longest window
    bucket_us = window_micros(percentile_bucket)
    per_day = DAY_US // bucket_us  # the catalogue checked that buckets divide a day
    ts_us = F.unix_micros("event_timestamp")
    home = _bucket(ts_us, bucket_us)
    rows = trips.select(
        "trip_id",
        "driver_id",
        "created",
        "trip_dist",
        ts_us.alias("ts_us"),
        F.explode(F.sequence(home, _bucket(ts_us + F.lit(window_us - 1), bucket_us))).alias(
            "bucket"
        ),
    ).withColumn(
        PARTITION_COLUMN, F.date_from_unix_date(_bucket(F.col("bucket"), per_day).cast("int"))
    )
    # A bucket's halo rows sort before its own rows; own rows sort by (date, time, id), which
    # the writer then takes as its order, so it neither shuffles nor sorts again.
    partitions = int(trips.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    laid_out = rows.repartition(partitions, PARTITION_COLUMN).sortWithinPartitions(
        PARTITION_COLUMN, "bucket", "ts_us", "trip_id"
    )
    if windows_us:
        ranks = _percentile_udf(windows_us)("bucket", "ts_us", "trip_dist")
        laid_out = laid_out.withColumn("__ranks", ranks)
    return laid_out.where(_bucket(F.col("ts_us"), bucket_us) == F.col("bucket")).select(
        "trip_id",
        "driver_id",
        F.timestamp_micros("ts_us").alias("event_timestamp"),
        "created",
        *[F.col("__ranks")[name].alias(name) for name in windows_us],
        PARTITION_COLUMN,
    )
