"""Feature views: one per table the catalogue declares, with the fields, types and descriptions the catalogue
declares, with the ttl and owner the catalogue declares for its table."""

from feast import Entity, FeatureView, Field
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.types import Float64, Int32, Int64

from definitions.code_version_tag import CODE_VERSION_TAG, UNKNOWN
from definitions.per_table import per_table
from transforms.feature_catalogue import Catalogue

FEAST_TYPES = {"int": Int32, "bigint": Int64, "double": Float64}


def _table_view(
    table: str,
    entity: Entity,
    source: SparkSource,
    owner: str,
    catalogue: Catalogue,
    code_versions: dict[str, str],
) -> FeatureView:
    return FeatureView(
        name=table,
        entities=[entity],
        ttl=catalogue.ttl.get(table),
        schema=[
            Field(name=f.name, dtype=FEAST_TYPES[f.dtype], description=f.description)
            for f in catalogue.features(table)
        ],
        source=source,
        online=True,
        description=catalogue.descriptions[table],
        owner=catalogue.owners.get(table) or owner,
        tags={
            "table": table,
            "produced_by": f"transforms.feature_tables.{table}",
            # the code that made the published table (trip_features.feature_lineage.code_versions)
            CODE_VERSION_TAG: code_versions.get(table, UNKNOWN),
        },
    )


@per_table("_view", table_source="_source")
def table_view(
    driver_entity: Entity,
    table_source: SparkSource,
    owner: str,
    catalogue: Catalogue,
    published_code_versions: dict[str, str],
    table: str,
) -> FeatureView:
    """Per trip of a driver: the {table} table's features."""
    return _table_view(
        table, driver_entity, table_source, owner, catalogue, published_code_versions
    )
