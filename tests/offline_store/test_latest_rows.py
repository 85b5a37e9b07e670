"""What materialization pulls: each key's latest row in a time range, against a pandas oracle, and
the same row the as-of join gives an entity row at the range's end (online = offline, ties too)."""

import datetime as dt

import pandas as pd
import pytest

from tests.oracles import minutes_after as _ts
from trip_features.offline_store.asof_join import ROW_ID, ViewJoin, latest_rows, point_in_time_join

KEYS = ["driver_id", "rider_id"]
START, END = _ts(100), _ts(500)


def _oracle(features: pd.DataFrame) -> pd.DataFrame:
    """Latest (event time, then created time) per key among rows in [START, END]."""
    inside = features[features["event_timestamp"].between(START, END)]
    ordered = inside.sort_values(["event_timestamp", "created"], kind="stable")
    return ordered.groupby(KEYS, as_index=False).tail(1)


def _latest(spark, features, **kwargs) -> pd.DataFrame:
    frame = latest_rows(
        spark.createDataFrame(features),
        KEYS,
        ["value", "count"],
        "event_timestamp",
        "created",
        (START.to_pydatetime(), END.to_pydatetime()),
        **kwargs,
    )
    got = frame.toPandas()
    return got.sort_values(list(got.columns[:2]), ignore_index=True)  # the keys, as named


def test_latest_row_per_key_equals_oracle(spark, adversarial):
    features, _ = adversarial
    got = _latest(spark, features)
    expected = _oracle(features).sort_values(KEYS, ignore_index=True)
    assert list(got.columns) == [*KEYS, "value", "count", "event_timestamp", "created"]
    assert got[KEYS].values.tolist() == expected[KEYS].values.tolist()
    assert got["count"].tolist() == expected["count"].tolist()  # which row, exactly
    times = got["event_timestamp"].dt.tz_localize("UTC")  # Spark hands UTC wall-clock times
    assert times.between(START, END).all()


def test_range_ends_are_included_and_renames_apply(spark, adversarial):
    features, _ = adversarial
    edges = pd.DataFrame(
        {
            "driver_id": [7, 7, 8, 8],
            "rider_id": [7, 7, 8, 8],
            "event_timestamp": [START, START - pd.Timedelta(microseconds=1), END, _ts(501)],
            "created": [START] * 4,
            "value": [1.0, 2.0, 3.0, 4.0],
            "count": [1, 2, 3, 4],
        }
    )
    got = _latest(spark, edges, renamed={"value": "distance", "driver_id": "driver"})
    assert list(got.columns)[:3] == ["driver", "rider_id", "distance"]
    assert got["distance"].tolist() == [1.0, 3.0]  # exactly at START and at END: in


def test_exact_ties_pick_the_row_the_join_picks(spark):
    """Rows equal in event and created time: the online store gets the one a training set sees."""
    tied = pd.DataFrame(
        {
            "driver_id": [1] * 6 + [2] * 3,
            "rider_id": [1] * 9,
            "event_timestamp": [_ts(200)] * 6 + [_ts(300)] * 3,
            "created": [_ts(200)] * 6 + [_ts(300)] * 3,
            "value": [float(v) for v in range(9)],
            "count": list(range(9)),
        }
    )
    latest = _latest(spark, tied)
    entities = spark.createDataFrame(
        pd.DataFrame({ROW_ID: [0, 1], "driver_id": [1, 2], "rider_id": [1, 1], "ts": [END, END]})
    )
    view = ViewJoin(
        name="v",
        source=spark.createDataFrame(tied),
        keys={k: k for k in KEYS},
        timestamp="event_timestamp",
        created="created",
        features={"value": "value", "count": "count"},
    )
    joined = point_in_time_join(entities, "ts", [view]).toPandas().sort_values(ROW_ID)
    assert latest["count"].tolist() == joined["count"].tolist()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_without_keys_one_row_under_the_dummy_key_in_any_session_zone(spark, adversarial, zone):
    from feast.feature_view import DUMMY_ENTITY_ID, DUMMY_ENTITY_VAL

    features, _ = adversarial
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", zone)
    try:
        got = latest_rows(
            spark.createDataFrame(features),
            [],
            ["count"],
            "event_timestamp",
            "created",
            (START.to_pydatetime(), END.to_pydatetime()),
        ).collect()
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)
    inside = features[features["event_timestamp"].between(START, END)]
    last = inside.sort_values(["event_timestamp", "created"], kind="stable").iloc[-1]
    assert len(got) == 1
    assert got[0]["count"] == last["count"] and got[0][DUMMY_ENTITY_ID] == DUMMY_ENTITY_VAL


def test_aware_range_ends_are_instants(spark, adversarial):
    """The same range given in another zone selects the same rows."""
    features, _ = adversarial
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    frame = latest_rows(
        spark.createDataFrame(features),
        KEYS,
        ["count"],
        "event_timestamp",
        "created",
        (START.to_pydatetime().astimezone(kolkata), END.to_pydatetime().astimezone(kolkata)),
    )
    got = frame.toPandas().sort_values(KEYS, ignore_index=True)
    assert got["count"].tolist() == _latest(spark, features)["count"].tolist()
