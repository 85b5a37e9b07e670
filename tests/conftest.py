"""One local[2] Spark session for the whole run, built by the same helper the jobs use."""

import os

import pytest

os.environ["TZ"] = "UTC"  # before pandas or Spark read the process zone


@pytest.fixture(scope="session")
def conf():
    from runtime.config import load_config

    return load_config(
        "local",
        [
            "spark.conf.spark.sql.shuffle.partitions=2",
            "spark.conf.spark.driver.memory=2g",
            "spark.app_name=trip-features-tests",
        ],
    )


@pytest.fixture(scope="session")
def spark(conf):
    from runtime.session import get_spark

    session = get_spark(conf)
    yield session
    session.stop()
