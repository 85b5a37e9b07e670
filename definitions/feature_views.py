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


def trips_stats_view(
    driver_entity: Entity, trips_stats_source: SparkSource, trips_stats_conf: dict
) -> FeatureView:
    """Per trip of a driver: calendar features and the rolling 3h distance percentile."""
    return FeatureView(
        name="trips_stats_3h",
        entities=[driver_entity],
        ttl=_ttl(trips_stats_conf),
        schema=_fields(TRIPS_STATS_FIELDS),
        source=trips_stats_source,
        online=True,
        description=_doc(feature_tables.trips_stats_3h__pandas),
        owner=trips_stats_conf.get("owner", ""),
        tags={"table": "trips_stats_3h", "produced_by": "transforms.feature_tables"},
    )


def driver_activity_view(
    driver_entity: Entity, driver_activity_source: SparkSource, driver_activity_conf: dict
) -> FeatureView:
    """Per trip of a driver: trip counts and distances over sliding windows."""
    return FeatureView(
        name="driver_activity",
        entities=[driver_entity],
        ttl=_ttl(driver_activity_conf),
        schema=_fields(DRIVER_ACTIVITY_FIELDS),
        source=driver_activity_source,
        online=True,
        description=_doc(feature_tables.driver_activity__pandas),
        owner=driver_activity_conf.get("owner", ""),
        tags={"table": "driver_activity", "produced_by": "transforms.feature_tables"},
    )
