"""Training sets compute the request calendar on Spark (column expressions of the calendar nodes'
Spark bodies); the result equals the on-demand view's own function (the Python bodies it runs
online), row for row, whatever else the frame holds."""

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from definitions.on_demand_views import ON_SPARK
from trip_features.offline_store.spark_store import with_on_demand_features

FEATURES = ["request_day_of_week", "request_is_weekend", "request_hour_of_day"]
TIMES = [
    dt.datetime(2026, 3, 29, 23, 59, 59, 999999, tzinfo=dt.UTC),  # Sunday, last microsecond
    dt.datetime(2026, 3, 30, 0, 0, tzinfo=dt.UTC),  # Monday midnight
    dt.datetime(2026, 3, 28, 0, 0, tzinfo=dt.UTC),  # Saturday midnight
    None,  # no request time: no features
    dt.datetime(2025, 12, 31, 23, 0, tzinfo=dt.UTC),
    dt.datetime(1969, 12, 31, 23, 30, tzinfo=dt.UTC),  # before the epoch: a Wednesday
]


@pytest.fixture(scope="module")
def request_view(conf):
    from definitions.feast_dataflow import build_definitions

    return build_definitions(conf)["request_calendar_view"]


def _frame(spark, times=TIMES, kind="timestamp"):
    """Entity rows whose columns clash with what the calendar nodes read and write."""
    rows = pd.DataFrame(
        {
            "row": range(len(times)),
            "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
            "day_of_week": -1,  # a feature of another view, as in driver_trips_v1
            "request_timestamp": pd.Series(times, dtype="datetime64[us, UTC]"),
        }
    )
    frame = spark.createDataFrame(rows)
    if kind != "timestamp":
        frame = frame.withColumn("request_timestamp", frame["request_timestamp"].cast(kind))
    return frame


def _applied(view, frame, on_spark, full=False):
    job = SimpleNamespace(
        to_spark_df=lambda: frame, full_feature_names=full, on_demand_feature_views=[view]
    )
    result = with_on_demand_features(job, on_spark)
    declared = [f.dataType.simpleString() for f in result.schema.fields[-len(FEATURES) :]]
    assert declared == ["int"] * len(FEATURES)  # Int32, as the view declares
    return result.orderBy("row").toPandas()


@pytest.mark.parametrize("kind", ["timestamp", "timestamp_ntz"])
@pytest.mark.parametrize("full", [False, True])
def test_spark_bodies_equal_the_views_own_function(spark, request_view, kind, full):
    frame = _frame(spark, kind=kind)
    on_spark = _applied(request_view, frame, ON_SPARK, full)
    by_function = _applied(request_view, frame, None, full)
    pd.testing.assert_frame_equal(on_spark, by_function)
    prefix = "request_calendar__" if full else ""
    assert list(on_spark.columns) == [
        "row",
        "event_timestamp",
        "day_of_week",
        "request_timestamp",
    ] + [prefix + f for f in FEATURES]
    assert on_spark["day_of_week"].tolist() == [-1] * len(TIMES)  # the other view's, untouched
    first = on_spark.iloc[0]
    assert [first[prefix + f] for f in FEATURES] == [6, 1, 23]
    assert on_spark.iloc[3][[prefix + f for f in FEATURES]].isna().all()
    assert [on_spark.iloc[5][prefix + f] for f in FEATURES] == [2, 0, 23]


def test_spark_bodies_step_aside_outside_utc_and_for_other_types(spark, request_view):
    """A session zone other than UTC, or request times as text: the view's own function runs,
    and the answers stay those of a UTC session."""
    expected = _applied(request_view, _frame(spark), ON_SPARK)
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        assert ON_SPARK["request_calendar"](_frame(spark), {"request_hour_of_day": "h"}) is None
        shifted = _applied(request_view, _frame(spark), ON_SPARK)
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    pd.testing.assert_frame_equal(shifted[FEATURES], expected[FEATURES])
    frame = _frame(spark)
    text = frame.withColumn("request_timestamp", frame["request_timestamp"].cast("string"))
    assert ON_SPARK["request_calendar"](text, {"request_hour_of_day": "h"}) is None
    pd.testing.assert_frame_equal(
        _applied(request_view, text, ON_SPARK)[FEATURES], expected[FEATURES]
    )
