"""The as-of join against a row-by-row oracle, on data built to break point-in-time joins."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.oracles import minutes_after as _ts
from tests.oracles import point_in_time_oracle
from trip_features.offline_store.asof_join import ROW_ID, ViewJoin, point_in_time_join


def _joined(
    spark,
    entities,
    features,
    ttl,
    keys=("driver_id", "rider_id"),
    bucket=dt.timedelta(days=1),
    whole_timelines=False,
):
    entity_df = spark.createDataFrame(entities.reset_index().rename(columns={"index": ROW_ID}))
    view = ViewJoin(
        name="v",
        source=spark.createDataFrame(features),
        keys={k: k for k in keys},
        timestamp="event_timestamp",
        created="created",
        features={"value": "value", "count": "count"},
        ttl=ttl,
        whole_timelines=whole_timelines,
    )
    return point_in_time_join(entity_df, "event_timestamp", [view], bucket=bucket)


def _run(spark, entities, features, ttl, **options):
    out = _joined(spark, entities, features, ttl, **options).toPandas()
    return out.set_index(ROW_ID).sort_index()


# Buckets narrower than the data make entity rows take their row from earlier buckets.
@pytest.mark.parametrize(
    "ttl, bucket",
    [
        pytest.param(None, None, marks=pytest.mark.slow),
        (None, dt.timedelta(minutes=7)),
        pytest.param(dt.timedelta(minutes=60), dt.timedelta(days=1), marks=pytest.mark.slow),
        (dt.timedelta(minutes=60), dt.timedelta(hours=1)),
        (dt.timedelta(minutes=7), dt.timedelta(minutes=13)),
    ],
)
def test_equals_oracle(spark, adversarial, ttl, bucket):
    features, entities = adversarial
    got = _run(spark, entities, features, ttl, bucket=bucket)
    assert len(got) == len(entities) and got.index.tolist() == list(range(len(entities)))
    assert got["label"].tolist() == entities["label"].tolist()
    _assert_oracle_values(got, entities, features, ttl)


def _assert_oracle_values(got, entities, features, ttl, keys=("driver_id", "rider_id")):
    expected = point_in_time_oracle(
        entities,
        "event_timestamp",
        features,
        list(keys),
        "event_timestamp",
        "created",
        ["value", "count"],
        pd.Timedelta(ttl) if ttl else None,
    )
    pd.testing.assert_series_equal(
        got["count"].astype("Float64"), expected["count"].astype("Float64"), check_names=False
    )
    np.testing.assert_allclose(got["value"].astype(float), expected["value"].astype(float))


@pytest.mark.parametrize("whole_timelines", [True, False])
def test_a_view_without_entities_equals_the_oracle(spark, adversarial, whole_timelines):
    """Feast's entity-less views (global stats): every entity row sees the one timeline of all
    feature rows (the single-sort SQL once emitted `SELECT , ...` for them)."""
    features, entities = adversarial
    ttl = dt.timedelta(minutes=60)
    bucket = None if whole_timelines else dt.timedelta(hours=1)
    keyless = features.drop(columns=["driver_id", "rider_id"])
    got = _run(
        spark, entities, keyless, ttl, keys=(), bucket=bucket, whole_timelines=whole_timelines
    )
    assert got["label"].tolist() == entities["label"].tolist()
    _assert_oracle_values(got, entities, keyless, ttl, keys=())


def test_keys_that_concatenate_alike_do_not_collide(spark, adversarial):
    features, entities = adversarial
    got = _run(spark, entities, features, None)
    got_keys = entities[["driver_id", "rider_id"]]
    matched = got["count"].notna()
    source_of = features.set_index("count")[["driver_id", "rider_id"]]
    pairs = source_of.loc[got.loc[matched, "count"].astype(int)].to_numpy()
    np.testing.assert_array_equal(pairs, got_keys[matched].to_numpy())


def test_exact_duplicates_give_one_row_and_the_same_answer_every_time(spark):
    features = pd.DataFrame(
        {
            "driver_id": [1, 1, 1],
            "event_timestamp": [_ts(0)] * 3,
            "created": [_ts(1)] * 3,
            "value": [1.0, 2.0, 3.0],
        }
    )
    entities = pd.DataFrame({"driver_id": [1, 1], "event_timestamp": [_ts(5), _ts(10)]})
    view = ViewJoin(
        "v",
        spark.createDataFrame(features),
        {"driver_id": "driver_id"},
        "event_timestamp",
        "created",
        {"value": "value"},
    )
    entity_df = spark.createDataFrame(entities.reset_index().rename(columns={"index": ROW_ID}))
    answers = {
        tuple(
            point_in_time_join(entity_df, "event_timestamp", [view])
            .orderBy(ROW_ID)
            .toPandas()["value"]
        )
        for _ in range(3)
    }
    assert len(answers) == 1
    (answer,) = answers
    assert len(answer) == 2 and answer[0] == answer[1] and answer[0] in (1.0, 2.0, 3.0)


def test_null_keys_match_nothing(spark):
    features = pd.DataFrame(
        {"driver_id": [None, 1.0], "event_timestamp": [_ts(0), _ts(0)], "value": [5.0, 6.0]}
    )
    entities = pd.DataFrame({"driver_id": [None, 1.0], "event_timestamp": [_ts(1), _ts(1)]})
    view = ViewJoin(
        "v",
        spark.createDataFrame(features),
        {"driver_id": "driver_id"},
        "event_timestamp",
        None,
        {"value": "value"},
    )
    entity_df = spark.createDataFrame(entities.reset_index().rename(columns={"index": ROW_ID}))
    got = point_in_time_join(entity_df, "event_timestamp", [view]).orderBy(ROW_ID).toPandas()
    assert got["value"].isna().tolist() == [True, False] and got["value"].iloc[1] == 6.0


def test_clashing_output_names_are_refused(spark):
    features = spark.createDataFrame(
        pd.DataFrame({"driver_id": [1], "event_timestamp": [_ts(0)], "value": [1.0]})
    )
    view = ViewJoin(
        "v", features, {"driver_id": "driver_id"}, "event_timestamp", None, {"value": "value"}
    )
    entity_df = spark.createDataFrame(
        pd.DataFrame({ROW_ID: [0], "driver_id": [1], "event_timestamp": [_ts(1)]})
    )
    with pytest.raises(ValueError, match="appear twice"):
        point_in_time_join(entity_df, "event_timestamp", [view, view])


def test_filter_by_created_hides_rows_created_after_the_entity_time(spark):
    """A backfilled row (same event time, created later) wins by default, and is unseen by an
    entity row older than its creation when filtering by created time."""
    features = pd.DataFrame(
        {
            "driver_id": [1, 1, 1],
            "event_timestamp": [_ts(0), _ts(0), _ts(30)],
            "created": [_ts(0), _ts(120), _ts(200)],
            "value": [10.0, 20.0, 30.0],
        }
    )
    entities = pd.DataFrame(
        {"driver_id": [1, 1, 1], "event_timestamp": [_ts(60), _ts(150), _ts(250)]}
    )
    view = ViewJoin(
        "v",
        spark.createDataFrame(features),
        {"driver_id": "driver_id"},
        "event_timestamp",
        "created",
        {"value": "value"},
    )
    entity_df = spark.createDataFrame(entities.reset_index().rename(columns={"index": ROW_ID}))
    for bucket in (None, dt.timedelta(minutes=45)):
        default = point_in_time_join(entity_df, "event_timestamp", [view], bucket=bucket)
        filtered = point_in_time_join(
            entity_df, "event_timestamp", [view], bucket=bucket, filter_by_created=True
        )
        assert default.orderBy(ROW_ID).toPandas()["value"].tolist() == [30.0, 30.0, 30.0]
        assert filtered.orderBy(ROW_ID).toPandas()["value"].tolist() == [10.0, 20.0, 30.0]


def test_a_view_sorted_whole_takes_no_buckets_and_equals_the_oracle(spark, adversarial):
    features, entities = adversarial
    options = {"bucket": dt.timedelta(minutes=7), "ttl": dt.timedelta(minutes=60)}

    def plan(**more):
        frame = _joined(spark, entities, features, options["ttl"], bucket=options["bucket"], **more)
        return frame._jdf.queryExecution().analyzed().toString()

    # Buckets carry each (key, bucket)'s latest row to later buckets; a whole timeline needs none.
    assert "__carried" in plan() and "__carried" not in plan(whole_timelines=True)
    got = _run(spark, entities, features, options["ttl"], bucket=None, whole_timelines=True)
    _assert_oracle_values(got, entities, features, options["ttl"])


def _second_view(spark, features, whole_timelines):
    """A view over other columns of the same keys: no created time, no ttl, one row per time."""
    rows = features.drop_duplicates(["driver_id", "rider_id", "event_timestamp"]).iloc[::2]
    rows = rows.rename(columns={"driver_id": "d", "rider_id": "r", "event_timestamp": "at"})
    rows = rows.assign(other=rows["value"] * 10)[["d", "r", "at", "other", "count"]]
    view = ViewJoin(
        name="w",
        source=spark.createDataFrame(rows),
        keys={"driver_id": "d", "rider_id": "r"},
        timestamp="at",
        created=None,
        features={"other": "other", "count": "count_w"},
        whole_timelines=whole_timelines,
    )
    return view, rows.rename(columns={"d": "driver_id", "r": "rider_id", "at": "event_timestamp"})


@pytest.mark.parametrize("first_whole", [True, False])
def test_views_of_the_same_keys_in_one_request_each_equal_the_oracle(
    spark, adversarial, first_whole
):
    """Whole-timeline views of the same keys share one sort, with the entity rows carried along
    (no join); beside a bucketed view they are joined to it. Either way each equals its oracle."""
    features, entities = adversarial
    ttl = dt.timedelta(minutes=60)
    entity_df = spark.createDataFrame(entities.reset_index().rename(columns={"index": ROW_ID}))
    first = ViewJoin(
        name="v",
        source=spark.createDataFrame(features),
        keys={"driver_id": "driver_id", "rider_id": "rider_id"},
        timestamp="event_timestamp",
        created="created",
        features={"value": "value", "count": "count"},
        ttl=ttl,
        whole_timelines=first_whole,
    )
    second, second_rows = _second_view(spark, features, whole_timelines=True)
    joined = point_in_time_join(
        entity_df, "event_timestamp", [first, second], bucket=dt.timedelta(minutes=13)
    )
    plan = joined._jdf.queryExecution().optimizedPlan().toString()
    if first_whole:  # one sort for both views, the entity rows in it
        assert plan.count("Window [") == 1 and "Join " not in plan
    else:
        assert "Join " in plan
    got = joined.toPandas().set_index(ROW_ID).sort_index()
    assert got.index.tolist() == list(range(len(entities)))
    assert got["label"].tolist() == entities["label"].tolist()
    _assert_oracle_values(got, entities, features, ttl)
    expected = point_in_time_oracle(
        entities,
        "event_timestamp",
        second_rows,
        ["driver_id", "rider_id"],
        "event_timestamp",
        None,
        ["other", "count"],
        None,
    )
    assert got["count_w"].notna().sum() > len(entities) // 2  # the view does match rows
    pd.testing.assert_series_equal(
        got["count_w"].astype("Float64"), expected["count"].astype("Float64"), check_names=False
    )
    np.testing.assert_allclose(got["other"].astype(float), expected["other"].astype(float))
