"""Builds every Feast object through the Hamilton driver, from the `feast:` and `paths:` conf."""

from typing import Any

from hamilton import driver
from hamilton.base import DictResult

from definitions import entities, feature_services, feature_views, on_demand_views, sources

DEFINITION_MODULES = [entities, sources, feature_views, on_demand_views, feature_services]
OBJECTS = [
    "driver_entity",
    "trips_stats_source",
    "driver_activity_source",
    "trip_request_source",
    "trips_stats_view",
    "driver_activity_view",
    "request_calendar_view",
    "driver_activity_v1",
    "driver_trips_v1",
]


def definition_inputs(conf: dict[str, Any]) -> dict[str, Any]:
    feast = conf["feast"]
    return {
        "features_path": conf["paths"]["features"],
        "driver_entity_name": feast["driver_entity"],
        "trips_stats_conf": feast["views"]["trips_stats_3h"],
        "driver_activity_conf": feast["views"]["driver_activity"],
    }


def definitions_driver() -> driver.Driver:
    return driver.Builder().with_modules(*DEFINITION_MODULES).with_adapters(DictResult()).build()


def build_definitions(conf: dict[str, Any]) -> dict[str, Any]:
    """Node name -> Feast object, for every object the repository registers."""
    return definitions_driver().execute(OBJECTS, inputs=definition_inputs(conf))
