"""The profile read from parquet footers equals the one Spark computes by reading every row."""

import numpy as np
import pandas as pd
import pytest

from trip_features.quality.checks import Check, evaluate, profile
from trip_features.quality.footer_profile import profile_staged
from trip_features.storage.table_layout import PART_FILE


def _staged(spark, tmp_path, frame: pd.DataFrame, nan_for_null: str | None = None):
    """`frame` written by Spark one file per `date`, the way the job stages its tables."""
    from pyspark.sql import functions as F

    folder = tmp_path / "staged"
    table = spark.createDataFrame(frame)
    if nan_for_null:
        column = F.col(nan_for_null)
        table = table.withColumn(
            nan_for_null, F.when(column.isNull(), F.lit(float("nan"))).otherwise(column)
        )
    table.repartition("date").write.partitionBy("date").parquet(str(folder))
    for date_dir in folder.glob("date=*"):
        (part,) = date_dir.glob("*.parquet")
        part.rename(date_dir / PART_FILE)
    return folder, spark.read.parquet(str(folder)).drop("date").schema


def _frame(rows=500, seed=1):
    rng = np.random.default_rng(seed)
    value = rng.random(rows)
    value[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "trip_id": np.arange(rows, dtype=np.int64),
            "event_timestamp": pd.Timestamp("2026-01-05", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3 * 86_400, rows), unit="s"),
            "is_weekend": rng.integers(0, 2, rows).astype(np.int32),
            "level": rng.integers(0, 3, rows).astype(np.int32),
            "value": pd.array(value, dtype="Float64"),  # NA: null in Spark, not NaN
            "date": ["2026-01-05", "2026-01-06", "2026-01-07"] * (rows // 3)
            + ["2026-01-05"] * (rows % 3),
        }
    )


def test_footer_profile_equals_a_full_read(spark, tmp_path):
    folder, schema = _staged(spark, tmp_path, _frame())
    checks = (Check("is_weekend", allowed=(0, 1)), Check("value", max_null_fraction=0.2))
    from_footers = profile_staged(spark, folder, schema, checks)
    full_read = profile(spark.read.parquet(str(folder)).drop("date"), checks)
    assert from_footers == full_read
    assert from_footers["columns"]["value"]["nulls"] > 0
    assert all(r.passed for r in evaluate(checks, from_footers))


def test_allowed_set_the_range_cannot_settle_is_counted(spark, tmp_path):
    frame = _frame()
    folder, schema = _staged(spark, tmp_path, frame)
    checks = (Check("level", allowed=(0, 2)),)  # 1 is between min and max, and not allowed
    got = profile_staged(spark, folder, schema, checks)
    assert got["columns"]["level"]["outside_allowed"] == (frame["level"] == 1).sum() > 0
    (result,) = evaluate(checks, got)
    assert not result.passed and "values outside [0, 2]" in result.problems[0]


@pytest.mark.parametrize("how", ["footers", "full read"])
def test_nan_in_a_written_column_fails_its_check(spark, tmp_path, how):
    folder, schema = _staged(spark, tmp_path, _frame(), nan_for_null="value")
    checks = (Check("value", max_null_fraction=1.0),)
    if how == "footers":
        got = profile_staged(spark, folder, schema, checks)
    else:
        got = profile(spark.read.parquet(str(folder)).drop("date"), checks)
    assert got["columns"]["value"]["nan"]
    (result,) = evaluate(checks, got)
    assert not result.passed and "NaN" in result.problems[0]


def test_empty_staging_has_an_empty_profile(spark, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    _, schema = _staged(spark, tmp_path, _frame(rows=3))
    got = profile_staged(spark, folder, schema)
    assert got["rows"] == 0 and set(got["columns"]) == set(schema.names)
