"""Repo configuration for Feast's universal offline-store tests, pointed at the project's store.

    FEAST_GIT=<feast snapshot git dir> FEAST_REPO_CONFIGS_MODULE=feast_universal_repo_configuration \
    PYTHONPATH=$PWD:$PWD/tests ../shared/feast-universal-tests/run.sh

Not collected by this project's pytest run (no test_ prefix); see docs/feast.md for the result.
"""

from feast.infra.offline_stores.contrib.spark_offline_store.tests.data_source import (
    SparkDataSourceCreator,
)
from pyspark.sql import SparkSession

from trip_features.offline_store.spark_store import ProjectSparkOfflineStoreConfig


class ProjectSparkDataSourceCreator(SparkDataSourceCreator):
    """Feast's Spark data source creator, with the project's offline store and a local[1] session."""

    def __init__(self, project_name: str, *args, **kwargs):
        (
            SparkSession.builder.master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
        super().__init__(project_name, *args, **kwargs)
        self.spark_conf["master"] = "local[1]"
        self.spark_conf["spark.sql.shuffle.partitions"] = "2"

    def create_offline_store_config(self):
        config = ProjectSparkOfflineStoreConfig()
        config.spark_conf = self.spark_conf
        return config


AVAILABLE_OFFLINE_STORES = [("local", ProjectSparkDataSourceCreator)]
AVAILABLE_ONLINE_STORES = {"sqlite": ({"type": "sqlite"}, None)}
