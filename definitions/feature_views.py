"""Feature views: one per feature table, with the fields, types and descriptions the catalogue
declares, and ttl and owner from conf."""

from feast import Entity, FeatureView, Field
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.types import Float64, Int32, Int64

from definitions.code_version_tag import CODE_VERSION_TAG, UNKNOWN
from runtime.durations import parse_duration
from transforms.feature_catalogue import Catalogue

FEAST_TYPES = {"int": Int32, "bigint": Int64, "double": Float64}


def _table_view(
    table: str,
    entity: Entity,
    source: SparkSource,
    view_conf: dict,
    catalogue: Catalogue,
    code_versions: dict[str, str],
) -> FeatureView:
    return FeatureView(
        name=table,
        entities=[entity],
        ttl=parse_duration(view_conf["ttl"], f"feast.views.{table}.ttl").to_pytimedelta()
        if view_conf.get("ttl")
        else None,
        schema=[
            Field(name=f.name, dtype=FEAST_TYPES[f.dtype], description=f.description)
            for f in catalogue.features(table)
        ],
        source=source,
        online=True,
        description=catalogue.descriptions[table],
        owner=view_conf.get("owner", ""),
        tags={
            "table": table,
            "produced_by": f"transforms.feature_tables.{table}",
            # the code that made the published table (feature_lineage.code_versions)
            CODE_VERSION_TAG: code_versions.get(table, UNKNOWN),
        },
    )


def trips_stats_view(
    driver_entity: Entity,
    trips_stats_source: SparkSource,
    trips_stats_conf: dict,
    catalogue: Catalogue,
    published_code_versions: dict[str, str],
) -> FeatureView:
    """Per trip of a driver: calendar features and the rolling distance percentiles."""
    return _table_view(
        "trips_stats_3h",
        driver_entity,
        trips_stats_source,
        trips_stats_conf,
        catalogue,
        published_code_versions,
    )


def driver_activity_view(
    driver_entity: Entity,
    driver_activity_source: SparkSource,
    driver_activity_conf: dict,
    catalogue: Catalogue,
    published_code_versions: dict[str, str],
) -> FeatureView:
    """Per trip of a driver: trip counts and distances over sliding windows."""
    return _table_view(
        "driver_activity",
        driver_entity,
        driver_activity_source,
        driver_activity_conf,
        catalogue,
        published_code_versions,
    )
