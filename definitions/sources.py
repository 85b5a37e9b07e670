"""Where the feature rows live: the tables jobs.compute_features writes, read by Spark."""

import os

from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource


def _table_source(features_path: str, table: str) -> SparkSource:
    return SparkSource(
        name=f"{table}_source",
        path=os.path.join(features_path, table),
        file_format="parquet",
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
        date_partition_column="date",
        date_partition_column_format="%Y-%m-%d",
        description=f"{table} as written by jobs.compute_features (date-partitioned parquet).",
    )


def trips_stats_source(features_path: str) -> SparkSource:
    """The trips_stats_3h table."""
    return _table_source(features_path, "trips_stats_3h")


def driver_activity_source(features_path: str) -> SparkSource:
    """The driver_activity table."""
    return _table_source(features_path, "driver_activity")
