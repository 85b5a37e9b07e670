"""Calendar features of the trip's event time, in UTC.

Each feature has one meaning and three bodies behind one node name: a pandas body (pandas runs),
a Spark column expression (no Python UDF cost) and a body over one Python datetime (the on-demand
view of a request: no pandas round trip). `engine` in the Hamilton config picks one;
tests/transforms/test_calendar_features.py holds them equal.
"""

import datetime as dt

import pandas as pd
from hamilton.function_modifiers import config
from hamilton.htypes import column
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def _utc(event_timestamp: pd.Series) -> pd.Series:
    """The times in UTC; naive times are taken to be UTC already."""
    ts = pd.to_datetime(event_timestamp)
    return ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")


@config.when(engine="pandas")
def day_of_week__pandas(event_timestamp: pd.Series) -> column[pd.Series, "int"]:
    """Day of the week of the trip, 0 = Monday ... 6 = Sunday (UTC)."""
    return _utc(event_timestamp).dt.dayofweek.astype("int32").rename("day_of_week")


@config.when(engine="spark")
def day_of_week__spark(event_timestamp: DataFrame) -> Column:
    """Day of the week of the trip, 0 = Monday ... 6 = Sunday (UTC)."""
    return F.weekday("event_timestamp").cast("int")


@config.when(engine="pandas")
def is_weekend__pandas(day_of_week: pd.Series) -> column[pd.Series, "int"]:
    """1 when the trip starts on a Saturday or Sunday (UTC), else 0."""
    return (day_of_week >= 5).astype("int32").rename("is_weekend")


@config.when(engine="spark")
def is_weekend__spark(day_of_week: DataFrame) -> Column:
    """1 when the trip starts on a Saturday or Sunday (UTC), else 0."""
    return (F.col("day_of_week") >= 5).cast("int")


@config.when(engine="pandas")
def hour_of_day__pandas(event_timestamp: pd.Series) -> column[pd.Series, "int"]:
    """Hour of the day the trip starts, 0-23 (UTC)."""
    return _utc(event_timestamp).dt.hour.astype("int32").rename("hour_of_day")


@config.when(engine="spark")
def hour_of_day__spark(event_timestamp: DataFrame) -> Column:
    """Hour of the day the trip starts, 0-23 (UTC)."""
    return F.hour("event_timestamp").cast("int")


def _utc_time(event_timestamp: dt.datetime) -> dt.datetime:
    """The time in UTC; a naive time is taken to be UTC already."""
    if event_timestamp.tzinfo is None:
        return event_timestamp.replace(tzinfo=dt.UTC)
    return event_timestamp.astimezone(dt.UTC)


@config.when(engine="python")
def day_of_week__python(event_timestamp: dt.datetime) -> int:
    """Day of the week of the trip, 0 = Monday ... 6 = Sunday (UTC)."""
    return _utc_time(event_timestamp).weekday()


@config.when(engine="python")
def is_weekend__python(day_of_week: int) -> int:
    """1 when the trip starts on a Saturday or Sunday (UTC), else 0."""
    return int(day_of_week >= 5)


@config.when(engine="python")
def hour_of_day__python(event_timestamp: dt.datetime) -> int:
    """Hour of the day the trip starts, 0-23 (UTC)."""
    return _utc_time(event_timestamp).hour
