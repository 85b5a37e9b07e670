"""Per-driver sliding windows at each trip: how busy the driver is and how far they drive.

A trip's window holds its driver's trips at or before it in (event_timestamp, trip_id) order
whose event time is in (t - w, t]; a trip counts itself. One body computes every feature
(`window_kernels.windows_by_group`); pandas runs it on the whole
table, Spark driver by driver, on rows Spark has sorted.
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
from transforms.kernels.time_columns import to_micros, window_micros
from transforms.kernels.window_kernels import windows_by_group


def _of_kind(counts: bool):
    """One node per window feature of the catalogue, counts or measures (a count reads no
    distance: its lineage says so)."""

    def decorate(driver_windows: dict[str, tuple[str, str]]):
        return parameterize(
            **{
                name: {"aggregation": value(how), "window": value(window), "feature": value(name)}
                for name, (how, window) in driver_windows.items()
                if (how == "count") == counts
            }
        )

    return decorate


def _window(event_timestamp, trip_id, driver_id, dist, aggregation, window, feature) -> pd.Series:
    values = windows_by_group(
        group=driver_id.to_numpy(np.int64),
        ts_us=to_micros(event_timestamp),
        trip_id=trip_id.to_numpy(np.int64),
        x=dist,
        plan={feature: (aggregation, window_micros(window))},
    )
    dtype = "int64" if aggregation == "count" else "float64"
    return pd.Series(values[feature], index=trip_id.index, name=feature).astype(dtype)


@resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=_of_kind(counts=True))
@config.when(engine="pandas")
def driver_count__pandas(
    event_timestamp: pd.Series,
    trip_id: pd.Series,
    driver_id: pd.Series,
    aggregation: str,
    window: str,
    feature: str,
) -> pd.Series:
    """The {aggregation} of the driver's trips in (t - {window}, t], t this trip's time."""
    return _window(event_timestamp, trip_id, driver_id, None, aggregation, window, feature)


@resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=_of_kind(counts=False))
@config.when(engine="pandas")
def driver_measure__pandas(
    event_timestamp: pd.Series,
    trip_id: pd.Series,
    driver_id: pd.Series,
    trip_dist: pd.Series,
    aggregation: str,
    window: str,
    feature: str,
) -> pd.Series:
    """The {aggregation} distance of the driver's trips in (t - {window}, t], t this trip's time."""
    dist = trip_dist.to_numpy(np.float64, na_value=np.nan)
    return _window(event_timestamp, trip_id, driver_id, dist, aggregation, window, feature)


@config.when(engine="spark")
def driver_windowed__spark(
    trips: DataFrame, driver_windows: dict[str, tuple[str, str]]
) -> DataFrame:
    """Trips (id, driver, times) with the per-driver window features, computed driver by driver."""
    plan = {name: (how, window_micros(window)) for name, (how, window) in driver_windows.items()}
    fields = [
        (name, pa.int64() if how == "count" else pa.float64()) for name, (how, _) in plan.items()
    ]
    struct = pa.struct(fields)
    ddl = ", ".join(f"{name}: {'long' if t == pa.int64() else 'double'}" for name, t in fields)

    def windows(
        driver_id: np.ndarray, ts_us: np.ndarray, trip_id: np.ndarray, dist: np.ndarray
    ) -> pa.Array:
        features = windows_by_group(driver_id, ts_us, trip_id, dist, plan)
        columns = [
            pa.array(features[name].astype(np.int64))
            if plan[name][0] == "count"
            else nan_as_null(features[name])
            for name, _ in fields
        ]
        return pa.StructArray.from_arrays(columns, fields=list(struct))

    @arrow_udf(f"struct<{ddl}>")
    def windowed(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        yield from by_whole_runs(batches, windows)

    rows = trips.select(
        "trip_id",
        "driver_id",
        F.unix_micros("event_timestamp").alias("ts_us"),
        "created",
        "trip_dist",
    )
    # Each driver's trips together in one partition: four columns cross into Python and the
    # features come back, while the rest of each row stays in the JVM. Spark sorts by driver
    # alone (one long key: a radix sort, cheaper than sorting by driver, time and id; see
    # docs/benchmark-log.md); each driver's trips are put in (time, trip id) order in Python.
    partitions = int(trips.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    laid_out = rows.repartition(partitions, "driver_id").sortWithinPartitions("driver_id")
    # Not deterministic for Spark: a row's values depend on its neighbours, so no filter may
    # be pushed below the features.
    features = windowed.asNondeterministic()("driver_id", "ts_us", "trip_id", "trip_dist")
    return laid_out.withColumn("__windows", features).select(
        "trip_id",
        "driver_id",
        F.timestamp_micros("ts_us").alias("event_timestamp"),
        "created",
        "trip_dist",  # what a window aggregates: a temporal table carries it
        *[F.col("__windows")[name].alias(name) for name in plan],
    )
