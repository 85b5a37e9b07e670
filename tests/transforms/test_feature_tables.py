"""Both feature tables on both engines against the brute-force oracles and the seed's pandas code."""

import numpy as np
import pandas as pd
import pytest

from tests.oracles import adversarial_trips, driver_window_oracle, percentile_oracle
from transforms.feature_catalogue import Catalogue
from transforms.feature_dataflow import build_driver
from transforms.feature_tables import TABLES
from transforms.kernels.time_columns import PARTITION_COLUMN
from trip_features.runtime.config import apply_override
from trip_features.runtime.settings import FeatureSettings
from trip_features.storage.sample_trips import generate_trips


def spark_tables(spark, trips, features_conf: FeatureSettings) -> dict:
    """The feature tables as Spark DataFrames, from trips (pandas or Spark)."""
    raw = trips if not isinstance(trips, pd.DataFrame) else spark.createDataFrame(trips)
    return build_driver("spark", features_conf).execute(list(TABLES), inputs={"trips_raw": raw})


def run_spark(
    spark, trips: pd.DataFrame, features_conf: FeatureSettings
) -> dict[str, pd.DataFrame]:
    tables = spark_tables(spark, trips, features_conf)
    return {name: _without_layout(t.toPandas()).set_index("trip_id") for name, t in tables.items()}


def _without_layout(table: pd.DataFrame) -> pd.DataFrame:
    """A Spark table without the `date` it may come laid out by, once that `date` is checked."""
    if PARTITION_COLUMN in table.columns:
        utc_date = table["event_timestamp"].dt.tz_localize(None).dt.date
        assert (table[PARTITION_COLUMN] == utc_date).all()
        table = table.drop(columns=PARTITION_COLUMN)
    return table.sort_values("trip_id")


def run_pandas(trips: pd.DataFrame, features_conf: FeatureSettings) -> dict[str, pd.DataFrame]:
    tables = build_driver("pandas", features_conf).execute(
        list(TABLES), inputs={"trips_raw": trips}
    )
    return {name: t.set_index("trip_id").sort_index() for name, t in tables.items()}


@pytest.fixture(scope="module")
def trips():
    return adversarial_trips(rows=1500)


def oracle_expectations(trips: pd.DataFrame, features_conf: FeatureSettings) -> dict:
    """What the oracles say every declared window feature must be."""
    catalogue = Catalogue.from_conf(features_conf)
    plan = {f.name: (f.aggregation, f.window) for f in catalogue.of_kind("driver_window")}
    return {
        "catalogue": catalogue,
        "percentile": {
            f.name: percentile_oracle(trips, f.window).sort_index()
            for f in catalogue.of_kind("rolling_percentile")
        },
        "driver": driver_window_oracle(trips, plan).sort_index(),
    }


@pytest.fixture(scope="module")
def expected(trips, conf):
    return oracle_expectations(trips, conf.features)


def _check_against_oracle(tables, trips, expected):
    stats, activity = tables["trips_stats_3h"], tables["driver_activity"]
    catalogue = expected["catalogue"]
    assert len(stats) == len(activity) == len(trips)
    assert stats.index.is_unique and activity.index.is_unique
    assert list(stats.reset_index().columns) == catalogue.columns("trips_stats_3h")
    assert list(activity.reset_index().columns) == catalogue.columns("driver_activity")
    for name, oracle in expected["percentile"].items():
        np.testing.assert_allclose(
            stats[name].to_numpy(dtype=float, na_value=np.nan),
            oracle.to_numpy(),
            rtol=0,
            atol=1e-12,
            err_msg=name,
        )
    for name in expected["driver"].columns:
        np.testing.assert_allclose(
            activity[name].to_numpy(dtype=float, na_value=np.nan),
            expected["driver"][name].to_numpy(dtype=float),
            rtol=1e-12,
            atol=1e-12,
            err_msg=name,
        )
    source = trips.set_index("trip_id").sort_index()
    for table in (stats, activity):
        pd.testing.assert_series_equal(table["driver_id"], source["driver_id"], check_dtype=False)
        for column in ("event_timestamp", "created"):
            pd.testing.assert_series_equal(
                table[column].dt.tz_localize(None) if table[column].dt.tz else table[column],
                source[column].dt.tz_localize(None),
                check_dtype=False,
            )


# Buckets narrower than the window put one trip in up to four buckets' halos; 16-minute buckets
# put bucket edges off the 15-minute grid.
@pytest.mark.parametrize(
    "bucket",
    [
        "24h",
        "16min",
        pytest.param("1h", marks=pytest.mark.slow),
        pytest.param("3h", marks=pytest.mark.slow),
    ],
)
def test_spark_tables_equal_oracle(spark, conf, trips, expected, bucket):
    features = apply_override(conf, f"features.percentile_bucket={bucket}").features
    _check_against_oracle(run_spark(spark, trips, features), trips, expected)


@pytest.mark.parametrize("bucket", ["48h", "17min"])
def test_bucket_that_does_not_divide_a_day_is_refused(spark, conf, trips, bucket):
    features = apply_override(conf, f"features.percentile_bucket={bucket}").features
    with pytest.raises(ValueError, match="must divide a day"):
        run_spark(spark, trips.head(10), features)


NEW_FEATURES = [
    "features.tables.driver_activity.features.trips_30m={kind: driver_window, aggregation: count,"
    " window: 30min}",
    "features.tables.driver_activity.features.mean_dist_7d={kind: driver_window, aggregation: mean,"
    " window: 7d}",
    "features.tables.trips_stats_3h.features.percentile_dist_rolling_1h={kind: rolling_percentile,"
    " window: 1h}",
]


@pytest.mark.parametrize("engine", ["spark", "pandas"])
def test_declared_features_are_computed_on_both_engines(spark, conf, trips, engine):
    """New declarations (a count, a mean, a second percentile window) need no code."""
    for declaration in NEW_FEATURES:
        conf = apply_override(conf, declaration)
    features = apply_override(conf, "features.percentile_bucket=1h").features
    tables = run_spark(spark, trips, features) if engine == "spark" else run_pandas(trips, features)
    expected = oracle_expectations(trips, features)
    assert {"trips_30m", "mean_dist_7d"} <= set(expected["driver"].columns)
    assert "percentile_dist_rolling_1h" in expected["percentile"]
    _check_against_oracle(tables, trips, expected)


def test_pandas_tables_equal_oracle(conf, trips, expected):
    _check_against_oracle(run_pandas(trips, conf.features), trips, expected)


def test_spark_equals_pandas_exactly_on_generated_trips(spark, conf):
    trips = generate_trips(rows=20_000, days=3, seed=11, drivers=50, null_dist_fraction=0.01)
    on_spark = run_spark(spark, trips, conf.features)
    on_pandas = run_pandas(trips, conf.features)
    for name in TABLES:
        pd.testing.assert_frame_equal(
            on_spark[name], on_pandas[name], check_dtype=False, check_exact=False, rtol=1e-12
        )


def _seed_percentile_dist_rolling_3h(trip_dist: pd.Series, event_timestamp: pd.Series) -> pd.Series:
    """The design note's function, as written there (with the sort the note does beforehand)."""
    df = pd.concat([trip_dist, event_timestamp], axis=1)
    agg = df.rolling("3h", on="event_timestamp")["trip_dist"].rank(pct=True)
    return pd.Series(agg, name="percentile_trip_dist_rolling_3h", index=event_timestamp.index)


@pytest.mark.slow
def test_spark_equals_the_seed_code_without_ties(spark, conf):
    trips = generate_trips(rows=5_000, days=2, seed=5, drivers=30)
    trips = trips.drop_duplicates("event_timestamp").sort_values(by="event_timestamp")
    seed = _seed_percentile_dist_rolling_3h(trips["trip_dist"], trips["event_timestamp"])
    got = run_spark(spark, trips, conf.features)["trips_stats_3h"]
    np.testing.assert_allclose(
        got["percentile_dist_rolling_3h"].to_numpy(dtype=float, na_value=np.nan),
        pd.Series(seed.to_numpy(), index=trips["trip_id"]).sort_index().to_numpy(),
        rtol=0,
        atol=1e-12,
    )


def test_nan_distance_is_missing_not_a_value_on_spark(spark, conf):
    """Spark keeps NaN apart from null and sorts it above every number: both must be missing."""
    from pyspark.sql import functions as F

    trips = adversarial_trips(rows=200, seed=3)
    raw = spark.createDataFrame(trips)
    nan_where_null = F.when(F.col("trip_dist").isNull(), F.lit(float("nan"))).otherwise(
        F.col("trip_dist")
    )
    with_nan = raw.withColumn("trip_dist", nan_where_null)
    assert with_nan.where(F.isnan("trip_dist")).count() == trips["trip_dist"].isna().sum() > 0
    tables = spark_tables(spark, with_nan, conf.features)
    got = {name: _without_layout(t.toPandas()).set_index("trip_id") for name, t in tables.items()}
    expected = percentile_oracle(trips, "3h").sort_index()
    np.testing.assert_allclose(
        got["trips_stats_3h"]["percentile_dist_rolling_3h"].to_numpy(dtype=float, na_value=np.nan),
        expected.to_numpy(),
        atol=1e-12,
    )
    assert got["driver_activity"]["max_dist_24h"].max() == trips["trip_dist"].max()


def test_missing_results_are_null_not_nan_on_spark(spark, conf, trips):
    """A null distance gives a null percentile, a window without distances null mean and max."""
    from pyspark.sql import functions as F

    tables = spark_tables(spark, trips, conf.features)
    stats = tables["trips_stats_3h"]
    assert stats.where(F.isnan("percentile_dist_rolling_3h")).count() == 0
    assert (
        stats.where(F.col("percentile_dist_rolling_3h").isNull()).count()
        == trips["trip_dist"].isna().sum()
    )
    activity = tables["driver_activity"]
    for name in ("mean_dist_24h", "max_dist_24h"):
        assert activity.where(F.isnan(name)).count() == 0


@pytest.mark.parametrize(
    "rows_per_batch",
    [pytest.param(1, marks=pytest.mark.slow), 7, pytest.param(250, marks=pytest.mark.slow)],
)
def test_spark_windows_stream_across_arrow_batches(spark, conf, trips, expected, rows_per_batch):
    """Groups (buckets, drivers) spanning many Arrow batches and batches spanning many groups
    give the same features."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(key)
    spark.conf.set(key, str(rows_per_batch))
    try:
        features = apply_override(conf, "features.percentile_bucket=1h").features
        tables = run_spark(spark, trips, features)
    finally:
        spark.conf.set(key, before)
    _check_against_oracle(tables, trips, expected)


def test_percentile_step_refuses_rows_out_of_order():
    from transforms.kernels.window_kernels import ranked_in_sorted_buckets

    bucket = np.array([1, 1, 2, 2])
    ranked = ranked_in_sorted_buckets(bucket, np.array([5, 6, 1, 2]), np.ones(4), 10)
    assert np.isfinite(ranked).all()  # a new bucket may start earlier: its halo
    with pytest.raises(RuntimeError, match="out of"):
        ranked_in_sorted_buckets(bucket, np.array([6, 5, 1, 2]), np.ones(4), 10)
    with pytest.raises(RuntimeError, match="out of"):
        ranked_in_sorted_buckets(np.array([2, 2, 1, 1]), np.array([1, 2, 5, 6]), np.ones(4), 10)


def test_driver_windows_refuse_rows_out_of_order():
    from transforms.kernels.window_kernels import windows_of_sorted_groups

    plan = {"trips_1h": ("count", 10)}
    got = windows_of_sorted_groups(np.array([1, 1, 2]), np.array([5, 6, 1]), np.ones(3), plan)
    assert list(got["trips_1h"]) == [1, 2, 1]
    with pytest.raises(RuntimeError, match="out of"):
        windows_of_sorted_groups(np.array([1, 1, 2]), np.array([6, 5, 1]), np.ones(3), plan)
    with pytest.raises(RuntimeError, match="out of"):
        windows_of_sorted_groups(np.array([2, 1, 1]), np.array([1, 5, 6]), np.ones(3), plan)
