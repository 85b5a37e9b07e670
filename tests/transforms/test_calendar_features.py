"""Calendar features: the pandas and Spark bodies agree, in UTC, across day and week edges."""

import pandas as pd
import pytest

from transforms.feature_dataflow import build_driver
from trip_features.runtime.config import load_config

FEATURES = load_config("local").features  # the shipped feature catalogue

EDGES = pd.Series(
    pd.to_datetime(
        [
            "2026-03-29 23:59:59.999999+00:00",  # Sunday, last microsecond
            "2026-03-30 00:00:00+00:00",  # Monday midnight
            "2026-03-28 00:00:00+00:00",  # Saturday midnight
            "2026-03-27 23:59:59+00:00",  # Friday night
            "2026-03-30 01:30:00+02:00",  # Monday in Paris, still Sunday 23:30 in UTC
            "2026-03-28 19:00:00-05:00",  # Saturday evening in New York, Sunday 00:00 UTC
            "2025-12-31 23:00:00+00:00",  # across a year end
            "2024-02-29 12:00:00+00:00",  # leap day, Thursday
        ],
        format="ISO8601",
        utc=True,
    )
)
# Expected by hand, in UTC: (day_of_week, is_weekend, hour_of_day)
EXPECTED = [
    (6, 1, 23),
    (0, 0, 0),
    (5, 1, 0),
    (4, 0, 23),
    (6, 1, 23),
    (6, 1, 0),
    (2, 0, 23),
    (3, 0, 12),
]


def _pandas_calendar(event_timestamp: pd.Series) -> pd.DataFrame:
    dr = build_driver("pandas", FEATURES)
    out = dr.execute(
        ["day_of_week", "is_weekend", "hour_of_day"], overrides={"event_timestamp": event_timestamp}
    )
    return pd.DataFrame(out)


def test_pandas_calendar_edges():
    got = _pandas_calendar(EDGES)
    assert list(got.itertuples(index=False, name=None)) == EXPECTED
    assert all(str(t) == "int32" for t in got.dtypes)


def test_pandas_reads_other_zones_and_naive_times_as_utc():
    paris = EDGES.dt.tz_convert("Europe/Paris")
    naive = EDGES.dt.tz_localize(None)
    pd.testing.assert_frame_equal(_pandas_calendar(paris), _pandas_calendar(EDGES))
    pd.testing.assert_frame_equal(_pandas_calendar(naive), _pandas_calendar(EDGES))


@pytest.mark.parametrize("session_zone", ["UTC", "America/Los_Angeles"])
def test_spark_calendar_equals_pandas(spark, session_zone):
    """Through the real Spark wiring; a caller's other session zone is reset to UTC, not used."""
    from pyspark.sql import functions as F

    from trip_features.runtime.config import load_config
    from trip_features.runtime.session import get_spark

    spark.conf.set("spark.sql.session.timeZone", session_zone)
    session = get_spark(load_config("local"))
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    ranked = session.createDataFrame(pd.DataFrame({"event_timestamp": EDGES})).select(
        F.monotonically_increasing_id().alias("trip_id"),
        F.lit(1).cast("long").alias("driver_id"),
        "event_timestamp",
        F.col("event_timestamp").alias("created"),
        F.lit(0.5).alias("percentile_dist_rolling_3h"),
    )
    table = build_driver("spark", FEATURES).execute(
        ["trips_stats_3h"], overrides={"trips_ranked": ranked}
    )
    got = table["trips_stats_3h"].orderBy("trip_id").toPandas()
    columns = ["day_of_week", "is_weekend", "hour_of_day"]
    assert list(got[columns].itertuples(index=False, name=None)) == EXPECTED
    pd.testing.assert_frame_equal(got[columns], _pandas_calendar(EDGES), check_dtype=True)


def test_python_bodies_equal_the_expected_calendar_in_any_zone():
    """The on-demand request path: one datetime at a time, naive times taken as UTC."""
    from transforms.feature_dataflow import calendar_of_times

    for times in (EDGES, EDGES.dt.tz_convert("Asia/Kolkata"), EDGES.dt.tz_localize(None)):
        got = calendar_of_times([t.to_pydatetime() for t in times])
        rows = list(zip(got["day_of_week"], got["is_weekend"], got["hour_of_day"], strict=True))
        assert rows == EXPECTED
        assert all(type(v) is int for values in got.values() for v in values)


def test_python_bodies_give_no_features_for_a_missing_time():
    from transforms.feature_dataflow import calendar_of_times

    got = calendar_of_times([None, pd.NaT, EDGES[1].to_pydatetime()])
    assert got == {
        "day_of_week": [None, None, 0],
        "is_weekend": [None, None, 0],
        "hour_of_day": [None, None, 0],
    }
