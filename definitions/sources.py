"""Where the feature rows live: the tables jobs.compute_features publishes, read by Spark from
their folders (files publication) or by name from the metastore (catalog publication); one
source per table the catalogue declares."""

import os

from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

from definitions.per_table import per_table, reading_its_table


def _table_source(
    features_path: str, features_schema: str | None, table: str, owner: str
) -> SparkSource:
    where = (
        {"table": f"{features_schema}.{table}"}
        if features_schema
        else {
            "path": os.path.join(features_path, table),
            "file_format": "parquet",
        }
    )
    return SparkSource(
        name=f"{table}_source",
        **where,
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
        date_partition_column="date",
        date_partition_column_format="%Y-%m-%d",
        description=f"{table} as published by jobs.compute_features (partitioned by date).",
        owner=owner,
    )


@reading_its_table("_source")
@per_table("_source")
def table_source(
    features_path: str, features_schema: str | None, owner: str, table: str
) -> SparkSource:
    """The {table} table, as jobs.compute_features publishes it."""
    return _table_source(features_path, features_schema, table, owner)
