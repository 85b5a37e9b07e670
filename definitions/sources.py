"""Where the feature rows live: the tables jobs.compute_features publishes, read by Spark from
their folders (files publication) or by name from the metastore (catalog publication)."""

import os

from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from hamilton.function_modifiers import tag


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


@tag(lineage_reads="trips_stats_3h")  # the published table (see feature_lineage.graph)
def trips_stats_source(features_path: str, features_schema: str | None, owner: str) -> SparkSource:
    """The trips_stats_3h table."""
    return _table_source(features_path, features_schema, "trips_stats_3h", owner)


@tag(lineage_reads="driver_activity")
def driver_activity_source(
    features_path: str, features_schema: str | None, owner: str
) -> SparkSource:
    """The driver_activity table."""
    return _table_source(features_path, features_schema, "driver_activity", owner)
