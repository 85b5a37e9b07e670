"""Builds every Feast object through the Hamilton driver, from conf's `feast:`, `paths:` and the
feature catalogue. What is registered is collected from the DAG itself: every node whose type is
a Feast object (entity, source, view, on-demand view, service), so none can be left out."""

from typing import Any

from feast import Entity, FeatureService
from feast.base_feature_view import BaseFeatureView
from feast.data_source import DataSource
from hamilton import driver
from hamilton.base import DictResult

from definitions import (
    entities,
    feature_services,
    feature_views,
    on_demand_views,
    sources,
    temporal_views,
)
from definitions.serving_log import LogSettings
from transforms.feature_catalogue import Catalogue
from trip_features.runtime.settings import Settings

DEFINITION_MODULES = [
    entities,
    sources,
    feature_views,
    on_demand_views,
    temporal_views,
    feature_services,
]
FEAST_OBJECT_TYPES = (Entity, DataSource, BaseFeatureView, FeatureService)


def definition_inputs(conf: Settings, code_versions: dict[str, str]) -> dict[str, Any]:
    publication = conf.publication
    return {
        "features_path": conf.paths.features,
        "features_schema": publication.schema_name if publication.kind == "catalog" else None,
        "driver_entity_name": conf.feast.driver_entity,
        "owner": conf.feast.owner,
        "catalogue": Catalogue.from_conf(conf.features),
        "published_code_versions": code_versions,
        "serving_log_settings": LogSettings.from_conf(conf),
    }


def definitions_driver(catalogue: Catalogue, modules: list | None = None) -> driver.Driver:
    """The definitions DAG: its per-table nodes follow the catalogue's tables."""
    return (
        driver.Builder()
        .with_modules(*(modules or DEFINITION_MODULES))
        .with_config(catalogue.hamilton_config())
        .with_adapters(DictResult())
        .build()
    )


def feast_object_nodes(dr: driver.Driver) -> list[str]:
    """The DAG's nodes that make a Feast object, by their declared types."""
    return sorted(
        v.name
        for v in dr.list_available_variables()
        if isinstance(v.type, type) and issubclass(v.type, FEAST_OBJECT_TYPES)
    )


def build_definitions(
    conf: Settings,
    modules: list | None = None,
    code_versions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Node name -> Feast object, for every Feast object the definitions DAG makes; each view tagged
    with its table's published code version from `code_versions` (table -> version,
    trip_features.feature_lineage.code_versions.published_versions), "unknown" for a table not in
    it."""
    inputs = definition_inputs(conf, code_versions or {})
    dr = definitions_driver(inputs["catalogue"], modules)
    return dr.execute(feast_object_nodes(dr), inputs=inputs)
