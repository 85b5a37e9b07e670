"""Transforms that peek where they must not: the leakage audit must catch every one."""

import numpy as np
import pandas as pd
from hamilton.function_modifiers import config
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.kernels.time_columns import to_micros


def _per_trip(trips: pd.DataFrame, name: str, values) -> pd.DataFrame:
    return pd.DataFrame({"trip_id": trips["trip_id"].to_numpy(), name: np.asarray(values)})


def _ordered(trips: pd.DataFrame) -> pd.DataFrame:
    return trips.sort_values(["event_timestamp", "trip_id"])


@config.when(engine="pandas")
def centred_mean_dist__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """The mean distance of the driver's 5 trips centred on this one (reads 2 later trips)."""
    ordered = _ordered(trips)
    rolled = ordered.groupby("driver_id")["trip_dist"].transform(
        lambda s: s.rolling(5, center=True, min_periods=1).mean()
    )
    return _per_trip(ordered, "centred_mean_dist", rolled)


@config.when(engine="pandas")
def next_dist__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """The distance of the driver's next trip: shift(-1)."""
    ordered = _ordered(trips)
    return _per_trip(ordered, "next_dist", ordered.groupby("driver_id")["trip_dist"].shift(-1))


@config.when(engine="pandas")
def whole_table_mean_dist__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """The mean distance of every trip in the table, later ones included."""
    return _per_trip(trips, "whole_table_mean_dist", np.full(len(trips), trips["trip_dist"].mean()))


def _counts_in(trips: pd.DataFrame, before: pd.Timedelta, after: pd.Timedelta) -> np.ndarray:
    """Per trip: the driver's trips with time in (t - before, t + after]."""
    ts = to_micros(trips["event_timestamp"])
    out = np.empty(len(trips), dtype=np.float64)
    for _, rows in trips.groupby("driver_id").indices.items():
        times = np.sort(ts[rows])
        lo = np.searchsorted(times, ts[rows] - before // pd.Timedelta("1us"), side="right")
        hi = np.searchsorted(times, ts[rows] + after // pd.Timedelta("1us"), side="right")
        out[rows] = hi - lo
    return out


@config.when(engine="pandas")
def reaching_trips_1h__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """Trips in the hour before, and (wrongly) the minute after: a window reaching past t."""
    counts = _counts_in(trips, pd.Timedelta("1h"), pd.Timedelta("1min"))
    return _per_trip(trips, "reaching_trips_1h", counts)


@config.when(engine="pandas")
def stale_trips_1h__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """Declared as an hour, counts two: trips that left the window still count."""
    counts = _counts_in(trips, pd.Timedelta("2h"), pd.Timedelta(0))
    return _per_trip(trips, "stale_trips_1h", counts)


@config.when(engine="spark")
def next_dist__spark(trips: DataFrame) -> DataFrame:
    """The distance of the driver's next trip, by a Spark window's lead."""
    following = Window.partitionBy("driver_id").orderBy("event_timestamp", "trip_id")
    return trips.select("trip_id", F.lead("trip_dist").over(following).alias("next_dist"))
