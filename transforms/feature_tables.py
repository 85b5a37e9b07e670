"""The two feature tables, assembled from the trips contract and the feature modules."""

import pandas as pd
from hamilton.function_modifiers import config, extract_columns
from hamilton.plugins import h_spark
from pyspark.sql import DataFrame

from transforms import calendar_features
from transforms.driver_windows import DRIVER_FEATURES
from transforms.spark_checks import Check, check_spark_output
from transforms.time_columns import PARTITION_COLUMN
from transforms.trips_contract import TRIPS_COLUMNS

KEY_COLUMNS = ["trip_id", "driver_id", "event_timestamp", "created"]
CALENDAR_FEATURES = ["day_of_week", "is_weekend", "hour_of_day"]
TRIPS_STATS_COLUMNS = KEY_COLUMNS + CALENDAR_FEATURES + ["percentile_dist_rolling_3h"]
DRIVER_ACTIVITY_COLUMNS = KEY_COLUMNS + list(DRIVER_FEATURES)
TABLES = {"trips_stats_3h": TRIPS_STATS_COLUMNS, "driver_activity": DRIVER_ACTIVITY_COLUMNS}


def _laid_out_by(table: DataFrame) -> list[str]:
    """The partition column a Spark table comes laid out by, if any (kept for the writer)."""
    return [PARTITION_COLUMN] if PARTITION_COLUMN in table.columns else []


@config.when(engine="pandas")
@extract_columns(*TRIPS_COLUMNS)
def trip_columns__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """The trips, column by column, for the pandas features."""
    return trips


@config.when(engine="spark")
@h_spark.with_columns(
    calendar_features,
    columns_to_pass=["event_timestamp"],
    select=CALENDAR_FEATURES,
    config_required=["engine"],
)
@check_spark_output(
    Check("trip_id", dtype="bigint"),
    Check("driver_id", dtype="bigint"),
    Check("day_of_week", dtype="int", minimum=0, maximum=6),
    Check("is_weekend", dtype="int", allowed=(0, 1)),
    Check("hour_of_day", dtype="int", minimum=0, maximum=23),
    Check(
        "percentile_dist_rolling_3h",
        dtype="double",
        minimum=0,
        minimum_exclusive=True,
        maximum=1,
        max_null_fraction=0.05,
        importance="warn",
    ),
)
def trips_stats_3h__spark(trips_ranked: DataFrame) -> DataFrame:
    """Per trip: calendar features and the rolling 3h percentile of trip distance."""
    return trips_ranked.select(*TRIPS_STATS_COLUMNS, *_laid_out_by(trips_ranked))


@config.when(engine="pandas")
def trips_stats_3h__pandas(
    trips: pd.DataFrame,
    day_of_week: pd.Series,
    is_weekend: pd.Series,
    hour_of_day: pd.Series,
    percentile_dist_rolling_3h: pd.Series,
) -> pd.DataFrame:
    """Per trip: calendar features and the rolling 3h percentile of trip distance."""
    features = pd.concat([day_of_week, is_weekend, hour_of_day, percentile_dist_rolling_3h], axis=1)
    return pd.concat([trips[KEY_COLUMNS], features], axis=1)[TRIPS_STATS_COLUMNS]


@config.when(engine="spark")
@check_spark_output(
    Check("trip_id", dtype="bigint"),
    Check("driver_id", dtype="bigint"),
    Check("trips_1h", dtype="bigint", minimum=1),
    Check("trips_24h", dtype="bigint", minimum=1),
    Check("trips_7d", dtype="bigint", minimum=1),
    Check("mean_dist_24h", dtype="double", minimum=0, max_null_fraction=0.05, importance="warn"),
    Check("max_dist_24h", dtype="double", minimum=0, max_null_fraction=0.05, importance="warn"),
)
def driver_activity__spark(driver_windowed: DataFrame) -> DataFrame:
    """Per trip: the driver's trip counts and distances over sliding windows."""
    return driver_windowed.select(*DRIVER_ACTIVITY_COLUMNS)


@config.when(engine="pandas")
def driver_activity__pandas(
    trips: pd.DataFrame,
    trips_1h: pd.Series,
    trips_24h: pd.Series,
    trips_7d: pd.Series,
    mean_dist_24h: pd.Series,
    max_dist_24h: pd.Series,
) -> pd.DataFrame:
    """Per trip: the driver's trip counts and distances over sliding windows."""
    features = pd.concat([trips_1h, trips_24h, trips_7d, mean_dist_24h, max_dist_24h], axis=1)
    return pd.concat([trips[KEY_COLUMNS], features], axis=1)[DRIVER_ACTIVITY_COLUMNS]
