"""Per-driver sliding windows at each trip: how busy the driver is and how far they drive.

A trip's window holds its driver's trips at or before it in (event_timestamp, trip_id) order
whose event time is in (t - w, t]; a trip counts itself. One body computes every feature
(`_driver_rolling`, with the compiled kernels of `window_kernels`); pandas runs it on the whole
table, Spark once per driver.
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
from transforms.window_kernels import rolling_count, rolling_max, rolling_mean

COUNT_FEATURES = ("trips_1h", "trips_24h", "trips_7d")
DISTANCE_FEATURES = ("mean_dist_24h", "max_dist_24h")
DRIVER_FEATURES = COUNT_FEATURES + DISTANCE_FEATURES


_KERNELS = {
    "count": lambda group, ts, x, window: rolling_count(group, ts, window).astype(np.float64),
    "mean": rolling_mean,
    "max": rolling_max,
}


def _driver_rolling(
    ts_us: np.ndarray,
    trip_id: np.ndarray,
    driver_id: np.ndarray,
    dist: np.ndarray,
    plan: dict[str, tuple[str, int]],
) -> dict[str, np.ndarray]:
    """feature -> its values in input order, for a plan of feature -> (aggregation, window)."""
    order = np.lexsort((trip_id, ts_us, driver_id))
    group, ts = driver_id[order], ts_us[order]
    x = dist[order] if dist is not None else np.zeros(len(order))
    out = {}
    for name, (how, window_us) in plan.items():
        values = np.empty(len(order), dtype=np.float64)
        values[order] = _KERNELS[how](group, ts, x, window_us)
        out[name] = values
    return out


def _feature(trips_columns: dict[str, np.ndarray], how: str, window: str) -> np.ndarray:
    return _driver_rolling(**trips_columns, plan={"feature": (how, window_micros(window))})[
        "feature"
    ]


def _columns(event_timestamp, trip_id, driver_id, trip_dist=None) -> dict[str, np.ndarray]:
    return {
        "ts_us": to_micros(event_timestamp),
        "trip_id": trip_id.to_numpy(np.int64),
        "driver_id": driver_id.to_numpy(np.int64),
        "dist": None if trip_dist is None else trip_dist.to_numpy(np.float64, na_value=np.nan),
    }


def _as_series(values: np.ndarray, like: pd.Series, name: str, dtype: str) -> pd.Series:
    return pd.Series(values, index=like.index, name=name).astype(dtype)


@config.when(engine="pandas")
def trips_1h__pandas(
    event_timestamp: pd.Series, trip_id: pd.Series, driver_id: pd.Series, trips_1h_window: str
) -> pd.Series:
    """Trips of the driver in the last hour, this one included."""
    counts = _feature(_columns(event_timestamp, trip_id, driver_id), "count", trips_1h_window)
    return _as_series(counts, trip_id, "trips_1h", "int64")


@config.when(engine="pandas")
def trips_24h__pandas(
    event_timestamp: pd.Series, trip_id: pd.Series, driver_id: pd.Series, trips_24h_window: str
) -> pd.Series:
    """Trips of the driver in the last 24 hours, this one included."""
    counts = _feature(_columns(event_timestamp, trip_id, driver_id), "count", trips_24h_window)
    return _as_series(counts, trip_id, "trips_24h", "int64")


@config.when(engine="pandas")
def trips_7d__pandas(
    event_timestamp: pd.Series, trip_id: pd.Series, driver_id: pd.Series, trips_7d_window: str
) -> pd.Series:
    """Trips of the driver in the last 7 days, this one included."""
    counts = _feature(_columns(event_timestamp, trip_id, driver_id), "count", trips_7d_window)
    return _as_series(counts, trip_id, "trips_7d", "int64")


@config.when(engine="pandas")
def mean_dist_24h__pandas(
    event_timestamp: pd.Series,
    trip_id: pd.Series,
    driver_id: pd.Series,
    trip_dist: pd.Series,
    driver_distance_window: str,
) -> pd.Series:
    """Mean distance of the driver's trips in the last 24 hours (null distances skipped)."""
    columns = _columns(event_timestamp, trip_id, driver_id, trip_dist)
    return _as_series(
        _feature(columns, "mean", driver_distance_window), trip_id, "mean_dist_24h", "float64"
    )


@config.when(engine="pandas")
def max_dist_24h__pandas(
    event_timestamp: pd.Series,
    trip_id: pd.Series,
    driver_id: pd.Series,
    trip_dist: pd.Series,
    driver_distance_window: str,
) -> pd.Series:
    """Longest distance among the driver's trips in the last 24 hours (null distances skipped)."""
    columns = _columns(event_timestamp, trip_id, driver_id, trip_dist)
    return _as_series(
        _feature(columns, "max", driver_distance_window), trip_id, "max_dist_24h", "float64"
    )


def driver_feature_plan(
    trips_1h_window: str, trips_24h_window: str, trips_7d_window: str, driver_distance_window: str
) -> dict[str, tuple[str, str]]:
    """feature -> (aggregation, window): the recipe both engines follow."""
    return {
        "trips_1h": ("count", trips_1h_window),
        "trips_24h": ("count", trips_24h_window),
        "trips_7d": ("count", trips_7d_window),
        "mean_dist_24h": ("mean", driver_distance_window),
        "max_dist_24h": ("max", driver_distance_window),
    }


@config.when(engine="spark")
def driver_windowed__spark(
    trips: DataFrame, driver_feature_plan: dict[str, tuple[str, str]]
) -> DataFrame:
    """Trips (id, driver, times) with the per-driver window features, computed driver by driver."""
    plan = {
        name: (how, window_micros(window)) for name, (how, window) in driver_feature_plan.items()
    }
    rows = trips.select(
        "trip_id",
        "driver_id",
        F.unix_micros("event_timestamp").alias("ts_us"),
        F.unix_micros("created").alias("created_us"),
        "trip_dist",
    )

    def windows_of_driver(table: pa.Table) -> pa.Table:
        features = _driver_rolling(
            _numpy(table, "ts_us"),
            _numpy(table, "trip_id"),
            _numpy(table, "driver_id"),
            _numpy(table, "trip_dist"),
            plan,
        )
        columns = {
            name: table.column(name) for name in ("trip_id", "driver_id", "ts_us", "created_us")
        }
        for name, values in features.items():
            columns[name] = (
                values.astype(np.int64) if plan[name][0] == "count" else nan_as_null(values)
            )
        return pa.table(columns, schema=schema)

    schema = pa.schema(
        [(n, pa.int64()) for n in ("trip_id", "driver_id", "ts_us", "created_us")]
        + [(n, pa.int64() if how == "count" else pa.float64()) for n, (how, _) in plan.items()]
    )
    ddl = ", ".join(
        f"{field.name} {'long' if field.type == pa.int64() else 'double'}" for field in schema
    )
    # Arrow in and out: pandas conversions would cost more than the windows themselves.
    windowed = rows.groupBy("driver_id").applyInArrow(windows_of_driver, ddl)
    return windowed.select(
        "trip_id",
        "driver_id",
        F.timestamp_micros("ts_us").alias("event_timestamp"),
        F.timestamp_micros("created_us").alias("created"),
        *plan,
    )
