"""Training sets through Feast, with the project's store, against the row-by-row oracle.

The data is built to break point-in-time joins (see the `adversarial` fixture in conftest.py); the stock
Feast Spark store is run on the same data to show that it does break there, and that where it is
correct the two stores agree.
"""

import datetime as dt
import os
import time

import numpy as np
import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, ValueType
from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkOfflineStoreConfig
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
from feast.repo_config import RepoConfig
from feast.types import Float64, Int64

from tests.oracles import point_in_time_oracle
from trip_features.offline_store.spark_store import ProjectSparkOfflineStoreConfig

TTL = dt.timedelta(minutes=60)


def _store(tmp_path, offline) -> FeatureStore:
    config = RepoConfig(
        project="pit_test",
        provider="local",
        registry=str(tmp_path / "registry.db"),
        offline_store=offline,
        online_store=SqliteOnlineStoreConfig(path=str(tmp_path / "online.db")),
        entity_key_serialization_version=3,
        repo_path=str(tmp_path),
    )
    return FeatureStore(config=config)


@pytest.fixture(scope="module")
def repo(spark, adversarial, tmp_path_factory):
    features, _ = adversarial
    tmp = tmp_path_factory.mktemp("pit")
    path = str(tmp / "pair_stats")
    spark.createDataFrame(features).write.parquet(path)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    rider = Entity(name="rider", join_keys=["rider_id"], value_type=ValueType.INT64)
    source = SparkSource(
        name="pair_source",
        path=path,
        file_format="parquet",
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    driver_view = FeatureView(
        name="driver_only",
        entities=[driver],
        ttl=None,
        source=source,
        schema=[Field(name="count", dtype=Int64)],
    )
    view = FeatureView(
        name="pair_stats",
        entities=[driver, rider],
        ttl=TTL,
        source=source,
        schema=[Field(name="value", dtype=Float64), Field(name="count", dtype=Int64)],
    )
    stores = {}
    for name, offline in (
        ("project", ProjectSparkOfflineStoreConfig()),
        ("stock", SparkOfflineStoreConfig()),
    ):
        store = _store(tmp / name, offline)
        store.apply([driver, rider, source, view, driver_view])
        stores[name] = store
    return stores


def _expected(adversarial):
    features, entities = adversarial
    return point_in_time_oracle(
        entities,
        "event_timestamp",
        features,
        ["driver_id", "rider_id"],
        "event_timestamp",
        "created",
        ["value", "count"],
        pd.Timedelta(TTL),
    )


def _training_set(store, entities):
    return store.get_historical_features(
        entity_df=entities, features=["pair_stats:value", "pair_stats:count"]
    ).to_df()


def test_project_store_equals_oracle_row_for_row(repo, adversarial):
    _, entities = adversarial
    got = _training_set(repo["project"], entities)
    expected = _expected(adversarial)
    assert len(got) == len(entities)
    assert got["label"].tolist() == entities["label"].tolist()  # every row once, in entity order
    pd.testing.assert_series_equal(
        got["count"].astype("Float64"),
        expected["count"].astype("Float64").reset_index(drop=True),
        check_names=False,
    )
    assert str(got["event_timestamp"].dt.tz) == "UTC"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="Feast 0.67's Spark join concatenates keys, so (1, 23) meets (12, 3), and returns one "
    "row per tied feature row: the reason trip_features/offline_store/ exists. When this passes, Feast fixed "
    "its join and the project's store may go.",
)
def test_stock_store_gives_the_oracle_rows(repo, adversarial):
    """A canary: the stock store on data built to break point-in-time joins."""
    _, entities = adversarial
    stock = _training_set(repo["stock"], entities)
    expected = _expected(adversarial)
    assert len(stock) == len(entities)
    merged = stock.merge(
        entities[["label"]].assign(expected=expected["count"].to_numpy()), on="label"
    )
    pd.testing.assert_series_equal(
        merged["count"].astype("Float64"), merged["expected"].astype("Float64"), check_names=False
    )


@pytest.mark.slow
def test_stores_agree_where_stock_is_correct(repo, adversarial):
    """Keys that cannot collide and times without ties: both stores give the oracle's rows."""
    features, entities = adversarial
    safe = entities[(entities["driver_id"] == 0) & (entities["rider_id"] == 0)]
    safe = safe.drop_duplicates("event_timestamp").reset_index(drop=True)
    project = _training_set(repo["project"], safe).sort_values("label", ignore_index=True)
    stock = _training_set(repo["stock"], safe).sort_values("label", ignore_index=True)
    pd.testing.assert_frame_equal(
        project[["label", "count"]], stock[["label", "count"]], check_dtype=False
    )


@pytest.mark.slow
def test_other_time_zones_change_nothing(spark, repo, adversarial):
    _, entities = adversarial
    expected = _training_set(repo["project"], entities)
    before_tz, before_session = os.environ.get("TZ"), spark.conf.get("spark.sql.session.timeZone")
    try:
        os.environ["TZ"] = "America/New_York"
        time.tzset()
        spark.conf.set("spark.sql.session.timeZone", "Asia/Kolkata")
        naive_local = entities.assign(
            event_timestamp=entities["event_timestamp"].dt.tz_convert("Asia/Kolkata")
        )
        got = _training_set(repo["project"], naive_local)
    finally:
        os.environ["TZ"] = before_tz or "UTC"
        time.tzset()
        spark.conf.set("spark.sql.session.timeZone", before_session)
    pd.testing.assert_frame_equal(got, expected)


def test_callers_session_settings_are_left_alone(spark, repo, adversarial):
    _, entities = adversarial
    spark.conf.set("spark.sql.parser.quotedRegexColumnNames", "false")
    _training_set(repo["project"], entities.head(20))
    assert spark.conf.get("spark.sql.parser.quotedRegexColumnNames") == "false"


def test_spark_and_sql_entity_inputs_keep_their_order(spark, repo, adversarial):
    _, entities = adversarial
    frame = spark.createDataFrame(entities).repartition(1).orderBy("label")
    frame.createOrReplaceTempView("pit_entities")
    from_frame = (
        repo["project"]
        .get_historical_features(entity_df=frame, features=["pair_stats:count"])
        .to_df()
    )
    from_sql = (
        repo["project"]
        .get_historical_features(
            entity_df="SELECT * FROM pit_entities", features=["pair_stats:count"]
        )
        .to_df()
    )
    expected = _expected(adversarial)["count"].astype("Float64").to_numpy()
    for got in (from_frame, from_sql):
        assert got["label"].tolist() == sorted(entities["label"])
        np.testing.assert_array_equal(
            got.sort_values("label")["count"].astype("Float64").to_numpy(), expected
        )


def test_full_feature_names(repo, adversarial):
    _, entities = adversarial
    got = (
        repo["project"]
        .get_historical_features(
            entity_df=entities.head(10), features=["pair_stats:count"], full_feature_names=True
        )
        .to_df()
    )
    assert "pair_stats__count" in got.columns and "count" not in got.columns


def test_views_with_different_keys_in_one_request(repo, adversarial):
    features, entities = adversarial
    got = (
        repo["project"]
        .get_historical_features(
            entity_df=entities,
            features=["pair_stats:count", "driver_only:count"],
            full_feature_names=True,
        )
        .to_df()
    )
    by_pair = _expected(adversarial)["count"]
    by_driver = point_in_time_oracle(
        entities,
        "event_timestamp",
        features,
        ["driver_id"],
        "event_timestamp",
        "created",
        ["count"],
        None,
    )["count"]
    assert got["label"].tolist() == entities["label"].tolist()
    np.testing.assert_array_equal(
        got["pair_stats__count"].astype("Float64"), by_pair.astype("Float64")
    )
    np.testing.assert_array_equal(
        got["driver_only__count"].astype("Float64"), by_driver.astype("Float64")
    )


def test_metadata_gives_the_entity_time_range_for_every_input_kind(spark, repo, adversarial):
    """The range is found only when read (no Spark job before the join); it is still right."""
    _, entities = adversarial
    low, high = entities["event_timestamp"].min(), entities["event_timestamp"].max()
    for entity_df in (entities, spark.createDataFrame(entities)):
        job = repo["project"].get_historical_features(
            entity_df=entity_df, features=["pair_stats:count"]
        )
        got = (job.metadata.min_event_timestamp, job.metadata.max_event_timestamp)
        assert [
            pd.Timestamp(t).tz_localize("UTC")
            if pd.Timestamp(t).tzinfo is None
            else pd.Timestamp(t)
            for t in got
        ] == [low, high]
