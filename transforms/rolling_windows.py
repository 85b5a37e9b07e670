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
from hamilton.function_modifiers import config
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf

from transforms.arrow_columns import by_whole_runs, nan_as_null
from transforms.time_columns import DAY_US, PARTITION_COLUMN, to_micros, window_micros
from transforms.window_kernels import ranked_in_sorted_buckets, rolling_percentile_rank


def _rolling_percentile(
    ts_us: np.ndarray, trip_id: np.ndarray, dist: np.ndarray, window_us: int
) -> np.ndarray:
    """Average-method percentile rank of each distance in its trailing window (NaN stays NaN)."""
    order = np.lexsort((trip_id, ts_us))
    ranked = rolling_percentile_rank(ts_us[order], dist[order], window_us)
    out = np.empty(len(order), dtype=np.float64)
    out[order] = ranked
    return out


@config.when(engine="pandas")
def percentile_dist_rolling_3h__pandas(
    event_timestamp: pd.Series, trip_id: pd.Series, trip_dist: pd.Series, percentile_window: str
) -> pd.Series:
    """Percentile rank of the trip's distance among all trips of the trailing window (3h)."""
    ranked = _rolling_percentile(
        to_micros(event_timestamp),
        trip_id.to_numpy(np.int64),
        trip_dist.to_numpy(np.float64, na_value=np.nan),
        window_micros(percentile_window),
    )
    return pd.Series(ranked, index=trip_dist.index, name="percentile_dist_rolling_3h")


def _bucket(micros, bucket_us: int):
    """Floor division in longs: exact for any time, and rounding down before 1970 too."""
    return F.call_function("div", micros - F.pmod(micros, F.lit(bucket_us)), F.lit(bucket_us))


def _buckets_per_day(bucket_us: int, percentile_bucket: str) -> int:
    if bucket_us > DAY_US or DAY_US % bucket_us:
        raise ValueError(
            f"features.percentile_bucket {percentile_bucket!r} must divide a day (24h, 6h, 1h, "
            "20min, ...): each date's buckets are then ranked and written by one task"
        )
    return DAY_US // bucket_us


def _percentile_udf(window_us: int):
    """An Arrow UDF over rows sorted by (bucket, time, trip id) that ranks each bucket once it
    has arrived whole: three columns cross into Python and one comes back."""

    def rank(bucket: np.ndarray, ts_us: np.ndarray, dist: np.ndarray) -> pa.Array:
        return nan_as_null(ranked_in_sorted_buckets(bucket, ts_us, dist, window_us))

    @arrow_udf("double")
    def ranked(batches: Iterator[tuple[pa.Array, pa.Array, pa.Array]]) -> Iterator[pa.Array]:
        yield from by_whole_runs(batches, rank)

    # Not deterministic for Spark: a row's value depends on its neighbours, so no filter may be
    # pushed below it (the halo rows must reach it).
    return ranked.asNondeterministic()


@config.when(engine="spark")
def trips_ranked__spark(
    trips: DataFrame, percentile_window: str, percentile_bucket: str
) -> DataFrame:
    """Trips (id, driver, times) with `percentile_dist_rolling_3h`, ranked per time bucket and
    laid out for writing: each `date` in one partition, rows in (event_timestamp, trip_id) order."""
    window_us, bucket_us = window_micros(percentile_window), window_micros(percentile_bucket)
    per_day = _buckets_per_day(bucket_us, percentile_bucket)
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
    ranked = laid_out.withColumn(
        "percentile_dist_rolling_3h", _percentile_udf(window_us)("bucket", "ts_us", "trip_dist")
    )
    return ranked.where(_bucket(F.col("ts_us"), bucket_us) == F.col("bucket")).select(
        "trip_id",
        "driver_id",
        F.timestamp_micros("ts_us").alias("event_timestamp"),
        "created",
        "percentile_dist_rolling_3h",
        PARTITION_COLUMN,
    )
