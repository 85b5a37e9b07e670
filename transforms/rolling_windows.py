"""Global rolling features: every trip compared with all trips of the trailing window.

Trips are ordered by (event_timestamp, trip_id). A trip's window holds the trips at or before it
in that order whose event time is in (t - window, t]. One body computes it (`_rolling_percentile`,
equal to pandas' `rolling(window).rank(pct=True)` on the sorted trips, and O(n log n));
pandas runs it on the whole table, Spark on time buckets that each also read one window of the
bucket before (the halo), so the result is the same trip for trip.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
from hamilton.function_modifiers import config
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.arrow_columns import nan_as_null
from transforms.arrow_columns import numpy_column as _numpy
from transforms.time_columns import to_micros, window_micros
from transforms.window_kernels import rolling_percentile_rank


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


_RANKED_SCHEMA = pa.schema(
    [(n, pa.int64()) for n in ("trip_id", "driver_id", "ts_us", "created_us")]
    + [("percentile_dist_rolling_3h", pa.float64())]
)
_RANKED_SCHEMA_DDL = (
    "trip_id long, driver_id long, ts_us long, created_us long, percentile_dist_rolling_3h double"
)


def _bucket(micros, bucket_us: int):
    """Floor division that stays exact for any long and rounds down before 1970 too."""
    return (micros - F.pmod(micros, F.lit(bucket_us))).cast("long") / F.lit(bucket_us)


@config.when(engine="spark")
def trips_ranked__spark(
    trips: DataFrame, percentile_window: str, percentile_bucket: str
) -> DataFrame:
    """Trips (id, driver, times) with `percentile_dist_rolling_3h`, ranked per time bucket."""
    window_us, bucket_us = window_micros(percentile_window), window_micros(percentile_bucket)
    ts_us = F.unix_micros("event_timestamp")
    first = _bucket(ts_us, bucket_us).cast("long")
    last = _bucket(ts_us + F.lit(window_us - 1), bucket_us).cast("long")
    rows = trips.select(
        "trip_id",
        "driver_id",
        ts_us.alias("ts_us"),
        F.unix_micros("created").alias("created_us"),
        "trip_dist",
        first.alias("home"),
        F.explode(F.sequence(first, last)).alias("bucket"),
    )

    def rank_bucket(table: pa.Table) -> pa.Table:
        ranked = _rolling_percentile(
            _numpy(table, "ts_us"), _numpy(table, "trip_id"), _numpy(table, "trip_dist"), window_us
        )
        own = _numpy(table, "home") == _numpy(table, "bucket")
        columns = {
            name: _numpy(table, name)[own]
            for name in ("trip_id", "driver_id", "ts_us", "created_us")
        }
        columns["percentile_dist_rolling_3h"] = nan_as_null(ranked[own])
        return pa.table(columns, schema=_RANKED_SCHEMA)

    # Arrow in and out: pandas conversions would cost more than the ranking itself.
    ranked = rows.groupBy("bucket").applyInArrow(rank_bucket, _RANKED_SCHEMA_DDL)
    return ranked.select(
        "trip_id",
        "driver_id",
        F.timestamp_micros("ts_us").alias("event_timestamp"),
        F.timestamp_micros("created_us").alias("created"),
        "percentile_dist_rolling_3h",
    )
