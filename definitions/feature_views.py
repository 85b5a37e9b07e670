"""Feature views: the tables' schemas with ttl and tags; descriptions come from the transforms."""

import datetime as dt

import pandas as pd
from feast import Entity, FeatureView, Field
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.types import Float64, Int32, Int64

from transforms import calendar_features, driver_windows, feature_tables, rolling_windows

TRIPS_STATS_FIELDS = {
    "day_of_week": (Int32, calendar_features.day_of_week__pandas),
    "is_weekend": (Int32, calendar_features.is_weekend__pandas),
    "hour_of_day": (Int32, calendar_features.hour_of_day__pandas),
    "percentile_dist_rolling_3h": (Float64, rolling_windows.percentile_dist_rolling_3h__pandas),
}
DRIVER_ACTIVITY_FIELDS = {
    "trips_1h": (Int64, driver_windows.trips_1h__pandas),
    "trips_24h": (Int64, driver_windows.trips_24h__pandas),
    "trips_7d": (Int64, driver_windows.trips_7d__pandas),
    "mean_dist_24h": (Float64, driver_windows.mean_dist_24h__pandas),
    "max_dist_24h": (Float64, driver_windows.max_dist_24h__pandas),
}


def _doc(fn) -> str:
    return (fn.__doc__ or "").strip().splitlines()[0]


def _fields(fields: dict) -> list[Field]:
    return [Field(name=n, dtype=t, description=_doc(fn)) for n, (t, fn) in fields.items()]


def _ttl(view_conf: dict) -> dt.timedelta:
    return pd.Timedelta(view_conf["ttl"]).to_pytimedelta()


def _table_view(
    table: str, entity: Entity, source: SparkSource, view_conf: dict, fields: dict, producer
) -> FeatureView:
    return FeatureView(
        name=table,
        entities=[entity],
        ttl=_ttl(view_conf),
        schema=_fields(fields),
        source=source,
        online=True,
        description=_doc(producer),
        owner=view_conf.get("owner", ""),
        tags={"table": table, "produced_by": "transforms.feature_tables"},
    )


def trips_stats_view(
    driver_entity: Entity, trips_stats_source: SparkSource, trips_stats_conf: dict
) -> FeatureView:
    """Per trip of a driver: calendar features and the rolling 3h distance percentile."""
    return _table_view(
        "trips_stats_3h",
        driver_entity,
        trips_stats_source,
        trips_stats_conf,
        TRIPS_STATS_FIELDS,
        feature_tables.trips_stats_3h__pandas,
    )


def driver_activity_view(
    driver_entity: Entity, driver_activity_source: SparkSource, driver_activity_conf: dict
) -> FeatureView:
    """Per trip of a driver: trip counts and distances over sliding windows."""
    return _table_view(
        "driver_activity",
        driver_entity,
        driver_activity_source,
        driver_activity_conf,
        DRIVER_ACTIVITY_FIELDS,
        feature_tables.driver_activity__pandas,
    )
