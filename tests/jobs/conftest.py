"""Features computed once for the Feast job tests, registered with each online store."""

import os

import pytest

from definitions.feature_store import write_repo
from jobs import compute_features, register
from runtime.config import apply_override
from storage.sample_trips import generate_trips, write_trips


@pytest.fixture(scope="session")
def feast_conf(spark, conf_at, tmp_path_factory):
    """Features of 8,000 trips, registered; the sqlite online store; a repo for the feast CLI."""
    tmp = tmp_path_factory.mktemp("feast")
    write_trips(generate_trips(rows=8_000, days=6, seed=9, drivers=25), tmp / "trips")
    conf = conf_at(tmp)
    compute_features.run(spark, conf)
    register.run(conf)
    write_repo(conf, tmp / "repo")  # for the feast CLI
    return conf, tmp


@pytest.fixture(scope="session")
def redis_conf(feast_conf, redis_server, tmp_path_factory):
    """The same features registered anew with the Redis online store; the connection string
    comes from the environment, as it must."""
    conf, features_at = feast_conf
    tmp = tmp_path_factory.mktemp("feast_redis")
    for override in (
        f"paths.registry={tmp / 'registry.db'}",
        "feast.online_store.type=redis",
        "feast.online_store.connection_string=${TRIP_FEATURES_REDIS}",
    ):
        conf = apply_override(conf, override)
    previous = os.environ.get("TRIP_FEATURES_REDIS")
    os.environ["TRIP_FEATURES_REDIS"] = redis_server
    try:
        register.run(conf)
        write_repo(conf, tmp / "repo")
        yield conf, features_at, tmp
    finally:
        if previous is None:
            os.environ.pop("TRIP_FEATURES_REDIS", None)
        else:
            os.environ["TRIP_FEATURES_REDIS"] = previous
