"""The feature tables, assembled from the trips and the feature nodes the catalogue declares."""

import pandas as pd
from hamilton import registry
from hamilton.function_modifiers import ResolveAt, config, extract_columns, group, inject, resolve
from hamilton.function_modifiers import source as node
from hamilton.plugins import h_spark
from pyspark.sql import DataFrame

from transforms import calendar_features
from transforms.feature_catalogue import CALENDAR, KEY_COLUMNS, TABLE_KINDS
from transforms.kernels.time_columns import PARTITION_COLUMN
from transforms.trips_contract import TRIPS_COLUMNS

TABLES = tuple(TABLE_KINDS)

# @extract_columns below takes pandas frames: loaded here, whether or not Hamilton autoloads (the
# jobs turn its autoloading off, see jobs/__init__.py).
registry.load_extension("pandas")


def _laid_out_by(table: DataFrame) -> list[str]:
    """The partition column a Spark table comes laid out by, if any (kept for the writer)."""
    return [PARTITION_COLUMN] if PARTITION_COLUMN in table.columns else []


def _features_of(table: str):
    """Injects the table's declared features (pandas nodes) as one list, in declared order."""
    return lambda table_features: inject(
        features=group(*[node(name) for name in table_features[table]])
    )


def _assembled(
    trips: pd.DataFrame, features: list[pd.Series], carried: list[str] = ()
) -> pd.DataFrame:
    return pd.concat([trips[[*KEY_COLUMNS, *carried]], *features], axis=1)


@config.when(engine="pandas")
@extract_columns(*TRIPS_COLUMNS)
def trip_columns__pandas(trips: pd.DataFrame) -> pd.DataFrame:
    """The trips, column by column, for the pandas features."""
    return trips


@config.when(engine="spark")
@h_spark.with_columns(
    calendar_features,
    columns_to_pass=["event_timestamp"],
    select=list(CALENDAR),
    config_required=["engine"],
)
def trips_stats_3h__spark(
    trips_ranked: DataFrame, table_features: dict[str, list[str]]
) -> DataFrame:
    """Per trip: calendar features and the rolling percentiles of trip distance."""
    columns = [*KEY_COLUMNS, *table_features["trips_stats_3h"]]
    return trips_ranked.select(*columns, *_laid_out_by(trips_ranked))


@resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=_features_of("trips_stats_3h"))
@config.when(engine="pandas")
def trips_stats_3h__pandas(trips: pd.DataFrame, features: list[pd.Series]) -> pd.DataFrame:
    """Per trip: calendar features and the rolling percentiles of trip distance."""
    return _assembled(trips, features)


@config.when(engine="spark")
def driver_activity__spark(
    driver_windowed: DataFrame,
    table_features: dict[str, list[str]],
    table_carried: dict[str, list[str]],
) -> DataFrame:
    """Per trip: the driver's trip counts and distances over sliding windows."""
    carried = table_carried["driver_activity"]
    return driver_windowed.select(*KEY_COLUMNS, *carried, *table_features["driver_activity"])


@resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=_features_of("driver_activity"))
@config.when(engine="pandas")
def driver_activity__pandas(
    trips: pd.DataFrame, features: list[pd.Series], table_carried: dict[str, list[str]]
) -> pd.DataFrame:
    """Per trip: the driver's trip counts and distances over sliding windows."""
    return _assembled(trips, features, table_carried["driver_activity"])
