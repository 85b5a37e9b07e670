"""The trips contract: clear errors for missing or mistyped columns, normalised values."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from tests.oracles import adversarial_trips
from transforms.feature_dataflow import build_driver
from transforms.trips_contract import TripsSchemaError
from trip_features.runtime.config import load_config

FEATURES = load_config("local").features  # the shipped feature catalogue


def _trips(spark, raw):
    return build_driver("spark", FEATURES).execute(["trips"], inputs={"trips_raw": raw})["trips"]


@pytest.fixture(scope="module")
def raw(spark):
    return spark.createDataFrame(adversarial_trips(rows=40, seed=1))


def test_missing_column_is_named(spark, raw):
    with pytest.raises(
        TripsSchemaError, match=r"column 'created' is missing \(expected timestamp\)"
    ):
        _trips(spark, raw.drop("created"))


def test_mistyped_column_names_expected_and_found_type(spark, raw):
    bad = raw.withColumn("event_timestamp", F.col("event_timestamp").cast("double"))
    with pytest.raises(
        TripsSchemaError, match="column 'event_timestamp' has type double, expected timestamp"
    ):
        _trips(spark, bad)


def test_every_problem_is_reported_at_once(spark, raw):
    bad = raw.drop("rider_id").withColumn("trip_dist", F.col("trip_dist").cast("string"))
    with pytest.raises(TripsSchemaError) as err:
        _trips(spark, bad)
    assert "rider_id" in str(err.value) and "trip_dist" in str(err.value)


def test_narrow_types_widen_and_naive_times_read_as_utc(spark, raw):
    narrow = raw.withColumn("driver_id", F.col("driver_id").cast("int")).withColumn(
        "event_timestamp", F.to_timestamp_ntz(F.lit("2026-03-28 23:30:00"))
    )
    out = _trips(spark, narrow)
    assert dict(out.dtypes)["driver_id"] == "bigint"
    assert dict(out.dtypes)["event_timestamp"] == "timestamp"
    first = out.select(F.unix_micros("event_timestamp").alias("us")).first()["us"]
    assert first == int(dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC).timestamp() * 1e6)


def test_nan_distances_become_null(spark, raw):
    with_nan = raw.withColumn(
        "trip_dist",
        F.when(F.col("trip_id") % 2 == 0, F.lit(float("nan"))).otherwise(F.col("trip_dist")),
    )
    out = _trips(spark, with_nan)
    assert with_nan.where(F.isnan("trip_dist")).count() > 0
    assert out.where(F.isnan("trip_dist")).count() == 0
    assert out.count() == raw.count()
