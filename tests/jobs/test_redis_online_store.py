"""The Redis online store: materialize, lookups, `feast serve` and online = latest offline run on a
real redis-server as they do on sqlite; a Redis that is down is named in one clear error; an
interrupted materialization is completed by the next and nothing older replaces what is served."""

import contextlib
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from definitions.feature_store import feature_store
from definitions.online_store import OnlineStoreError, online_store_settings
from jobs import materialize
from tests.jobs.feast_serving import PROJECT, ask_feast_serve, latest_per_driver, served
from tests.oracles import windows_at
from tests.shipped_catalogue import COUNT_WINDOWS, WINDOWS
from trip_features.runtime.config import apply_override

pytestmark = pytest.mark.slow  # starts processes or servers: the full suite runs it

ACTIVITY = WINDOWS  # every window the catalogue declares
CALENDAR = ["day_of_week", "is_weekend", "hour_of_day", "percentile_dist_rolling_3h"]


def _flush(address: str) -> None:
    import redis

    host, port = address.split(":")
    redis.Redis(host=host, port=int(port)).flushall()


def _assert_serves(conf, table: pd.DataFrame, view: str, features: list[str]) -> None:
    """The view serves each driver's latest row (the per-trip views, as of their last trip),
    asked at the table's last trip: null where it is older than the view's 1-day ttl then."""
    latest = latest_per_driver(table)
    asked = table["event_timestamp"].max().to_pydatetime()
    online = (
        feature_store(conf)
        .get_online_features(
            features=[f"{view}:{name}" for name in features],
            entity_rows=[{"driver_id": d, "request_timestamp": asked} for d in latest.index],
        )
        .to_df()
    )
    online = online.set_index("driver_id").sort_index()
    fresh = latest["event_timestamp"] >= pd.Timestamp(asked) - pd.Timedelta("1d")
    for name in features:
        np.testing.assert_allclose(
            online[name].astype(float), latest[name].astype(float).where(fresh), err_msg=name
        )


def test_online_equals_latest_offline_on_redis_and_sqlite(feast_conf, redis_conf, redis_server):
    sqlite, tmp = feast_conf
    redis, _, _ = redis_conf
    _flush(redis_server)
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    stats = pd.read_parquet(tmp / "features" / "trips_stats_3h")
    for conf in (redis, sqlite):
        materialize.run(conf, start="2026-01-01", end="2026-01-12")
        _assert_serves(conf, activity, "driver_activity", ACTIVITY)
        _assert_serves(conf, stats, "trips_stats_3h", CALENDAR[-1:])
    drivers = sorted(activity["driver_id"].unique().tolist())
    at = pd.Timestamp("2026-01-09T17:45:00Z")
    expected = windows_at(activity, drivers, at)
    answers = [materialize.lookup(c, drivers, "driver_trips_v1", at) for c in (redis, sqlite)]
    pd.testing.assert_frame_equal(*answers)
    for name in ACTIVITY:  # the windows at the moment asked, on both stores
        np.testing.assert_allclose(answers[0][name].astype(float), expected[name].astype(float))


@pytest.mark.slow
def test_feast_serve_on_redis(redis_conf, redis_server):
    conf, tmp, redis_tmp = redis_conf
    materialize.run(conf, start="2026-01-01", end="2026-01-12")
    written = (redis_tmp / "repo" / "feature_store.yaml").read_text()
    assert "${TRIP_FEATURES_REDIS}" in written and redis_server not in written
    at = pd.Timestamp("2026-01-09T17:45:00Z")
    answer = ask_feast_serve(redis_tmp / "repo", [1000, 1001], at=int(at.timestamp()))
    expected = windows_at(pd.read_parquet(tmp / "features" / "driver_activity"), [1000, 1001], at)
    for name in COUNT_WINDOWS:  # the same windows through feast serve
        assert served(answer, name) == expected[name].tolist(), name


def test_a_redis_that_is_down_is_named(redis_conf, unused_port, monkeypatch):
    conf, _, _ = redis_conf
    monkeypatch.setenv("TRIP_FEATURES_REDIS", f"127.0.0.1:{unused_port}")
    with pytest.raises(OnlineStoreError, match=f"127.0.0.1:{unused_port} does not answer.*start"):
        materialize.lookup(conf, [1000])
    with pytest.raises(OnlineStoreError, match="does not answer"):
        materialize.run(conf, start="2026-01-01", end="2026-01-12")


def test_the_feature_server_answers_a_redis_that_is_down_with_a_503_that_says_what_to_do(
    redis_conf, unused_port, monkeypatch
):
    """Through the HTTP server, as a model server would ask: a 503 naming the Redis and what to
    do, on a connection that stays open for the next request."""
    import http.client

    from tests.feature_serving.conftest import post, running_server

    conf, _, _ = redis_conf
    monkeypatch.setenv("TRIP_FEATURES_REDIS", f"127.0.0.1:{unused_port}")
    asked = {
        "feature_service": "driver_activity_v1",
        "entities": {"driver_id": [1001], "request_timestamp": ["2026-01-09T17:45:00Z"]},
    }
    with running_server(conf) as (port, _):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(2):
            status, answer = post(connection, asked)
            assert status == 503, answer
            assert f"127.0.0.1:{unused_port} does not answer" in answer["error"], answer
            assert "start it" in answer["error"], answer
        connection.close()


def test_each_call_to_a_redis_that_drops_connections_is_tried_as_often_as_conf_says(
    redis_conf, monkeypatch
):
    """1 + feast.online_store.retries tries a call, on the clients of lookups (sync and async)
    and writes, not redis-py's default of 4 tries with pauses of seconds."""
    conf, _, _ = redis_conf
    with _dropping_listener() as (address, accepted):
        monkeypatch.setenv("TRIP_FEATURES_REDIS", address)
        once = _tries(apply_override(conf, "feast.online_store.retries=0"), accepted)
        four_times = _tries(apply_override(conf, "feast.online_store.retries=3"), accepted)
    for path, tries in once.items():
        assert tries >= 1, once
        assert four_times[path] == 4 * tries, (once, four_times)


def _tries(conf, accepted) -> dict[str, int]:
    """The connections a lookup (sync and async) and a materialization's write check each made
    before failing."""
    import asyncio

    from redis.exceptions import ConnectionError

    store = feature_store(conf)
    asked = store.get_feature_service("driver_activity_v1")
    row = {"driver_id": 1000, "request_timestamp": pd.Timestamp("2026-01-10", tz="UTC")}
    calls = {
        "lookup": lambda: materialize.lookup(conf, [1000]),
        "async lookup": lambda: asyncio.run(store.get_online_features_async(asked, [row])),
        "write check": lambda: materialize.run(conf, start="2026-01-01"),
    }
    tries = {}
    for path, call in calls.items():
        before = accepted()
        with pytest.raises((OnlineStoreError, ConnectionError)):
            call()
        tries[path] = accepted() - before
    return tries


@contextlib.contextmanager
def _dropping_listener():
    """A loopback port that accepts each connection and closes it at once; yields its address
    and a function giving how many connections it accepted."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)  # a closed socket does not wake accept(): the loop looks at `over`
    over = threading.Event()
    accepted = []

    def serve():
        while not over.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", lambda: len(accepted)
    finally:
        over.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("kind", ["a folder", "a read-only file"])
def test_a_sqlite_store_that_cannot_be_written_is_named(feast_conf, tmp_path, kind, monkeypatch):
    """Named before any offline data is read (no session is asked for)."""
    import shutil

    sqlite, _ = feast_conf
    registry = tmp_path / "registry.db"
    shutil.copy(sqlite.paths.registry, registry)
    store = tmp_path / "online.db"
    if kind == "a folder":
        store.mkdir()
    else:
        shutil.copy(sqlite.paths.online_store, store)
        store.chmod(0o444)
        if os.access(store, os.W_OK):  # root writes read-only files: make it unwritable another way
            store.chmod(0o644)
            store.write_bytes(b"not a database, whatever its name")
    conf = apply_override(sqlite, f"paths.registry={registry}")
    conf = apply_override(conf, f"paths.online_store={store}")
    monkeypatch.setattr(materialize, "get_spark", _no_session)
    with pytest.raises(OnlineStoreError, match=f"sqlite online store at {store} cannot be used"):
        materialize.run(conf, start="2026-01-01", end="2026-01-12")


def _no_session(conf):
    raise AssertionError("the offline data was read before the online store was checked")


def test_connection_secrets_come_from_the_environment(conf, monkeypatch):
    redis = apply_override(conf, "feast.online_store.type=redis")
    with_variable = apply_override(
        redis, "feast.online_store.connection_string=${TRIP_FEATURES_REDIS}"
    )
    monkeypatch.delenv("TRIP_FEATURES_REDIS", raising=False)
    with pytest.raises(OnlineStoreError, match="needs TRIP_FEATURES_REDIS in the environment"):
        online_store_settings(with_variable)
    written = apply_override(redis, "feast.online_store.connection_string=r:6379,password=hunter2")
    with pytest.raises(OnlineStoreError, match="holds a password"):
        online_store_settings(written)
    monkeypatch.setenv("TRIP_FEATURES_REDIS", "r:6379,password=hunter2,ssl=true")
    settings = online_store_settings(with_variable)
    assert settings["connection_string"].startswith("r:6379,password=hunter2,ssl=true,")
    assert "socket_connect_timeout=3" in settings["connection_string"]
    assert "hunter2" not in online_store_settings(with_variable, expand=False)["connection_string"]


def _materialize_job(conf, end: str, kill_at: str) -> subprocess.CompletedProcess:
    """The materialize job in a process of its own, killed at `kill_at`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    env["TRIP_FEATURES_KILL_AT"] = kill_at
    overrides = [
        f"paths.{key}={getattr(conf.paths, key)}" for key in ("trips", "features", "registry")
    ] + ["spark.conf.spark.sql.shuffle.partitions=2"]
    return subprocess.run(
        [sys.executable, "-m", "jobs.materialize", "--env", "redis", "--start", "2026-01-01"]
        + ["--end", end, *[arg for o in overrides for arg in ("--set", o)]],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_an_interrupted_materialization_is_completed_and_nothing_older_replaces_newer(
    redis_conf, redis_server
):
    conf, tmp, _ = redis_conf
    _flush(redis_server)
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    stats = pd.read_parquet(tmp / "features" / "trips_stats_3h")
    early = "2026-01-08"

    def until(table, end):
        return table[table["event_timestamp"] < pd.Timestamp(end, tz="UTC")]

    materialize.run(conf, start="2026-01-01", end=early)
    # Killed after its first view (driver_activity) is written, before trips_stats_3h.
    killed = _materialize_job(conf, "2026-01-12", kill_at="materialized:driver_activity")
    assert killed.returncode == -9, killed.stderr[-3000:]
    _assert_serves(conf, activity, "driver_activity", ACTIVITY)
    _assert_serves(conf, until(stats, early), "trips_stats_3h", CALENDAR[-1:])
    # The same run again completes it: here, in this process (the process was what the kill
    # needed; the rerun only has to find what the killed run left).
    materialize.run(conf, start="2026-01-01", end="2026-01-12")
    _assert_serves(conf, stats, "trips_stats_3h", CALENDAR[-1:])
    # Materializing an earlier range again writes older rows: the newer ones stay served.
    materialize.run(conf, start="2026-01-01", end=early)
    _assert_serves(conf, activity, "driver_activity", ACTIVITY)
    _assert_serves(conf, stats, "trips_stats_3h", CALENDAR[-1:])


def test_an_earlier_range_never_replaces_newer_rows_on_either_store(
    feast_conf, redis_conf, redis_server
):
    """Materializing an earlier range after a full one writes older rows: on sqlite (whose Feast
    write overwrote whatever it held) as on Redis, every driver keeps its newest values."""
    sqlite, tmp = feast_conf
    redis, _, _ = redis_conf
    _flush(redis_server)
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    early = "2026-01-08"
    assert (activity["event_timestamp"] >= pd.Timestamp(early, tz="UTC")).any()  # it is older
    for conf in (sqlite, redis):
        materialize.run(conf, start="2026-01-01", end="2026-01-12")
        materialize.run(conf, start="2026-01-01", end=early)
        _assert_serves(conf, activity, "driver_activity", ACTIVITY)


def test_without_the_variable_the_secret_scope_is_asked(conf, monkeypatch):
    """On Databricks serverless compute and in notebooks there are no cluster variables: the
    connection string comes from the secret scope named in conf, through dbutils."""
    import types

    asked = []

    class Secrets:
        @staticmethod
        def get(scope, key):
            asked.append((scope, key))
            return "redis.internal:6380,password=s3cret,ssl=true"

    runtime = types.ModuleType("databricks.sdk.runtime")
    runtime.dbutils = types.SimpleNamespace(secrets=Secrets())
    monkeypatch.setitem(sys.modules, "databricks.sdk", types.ModuleType("databricks.sdk"))
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", runtime)
    monkeypatch.delenv("TRIP_FEATURES_REDIS", raising=False)
    databricks = apply_override(
        apply_override(conf, "feast.online_store.type=redis"),
        "feast.online_store.connection_string=${TRIP_FEATURES_REDIS}",
    )
    for key, value in (("secret_scope", "trip_features"), ("secret_key", "redis")):
        databricks = apply_override(databricks, f"feast.online_store.{key}={value}")
    settings = online_store_settings(databricks)
    assert asked == [("trip_features", "redis")]
    assert settings["connection_string"].startswith("redis.internal:6380,password=s3cret,ssl=true")


def test_purge_empties_one_view_on_redis_and_sqlite(feast_conf, redis_conf, redis_server):
    """What jobs.pipeline does when a table's code changed: the online rows of the views that read
    it go, the other view's stay, and materializing again writes every row anew (Redis would
    skip rows whose event time it already holds)."""
    sqlite, tmp = feast_conf
    redis, _, _ = redis_conf
    _flush(redis_server)
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    stats = pd.read_parquet(tmp / "features" / "trips_stats_3h")
    drivers = sorted(activity["driver_id"].unique().tolist())
    at = pd.Timestamp("2026-01-09T17:45:00Z")
    for conf in (redis, sqlite):
        materialize.run(conf, start="2026-01-01", end="2026-01-12")
        views = ["driver_activity", "driver_activity_recent_trips"]
        materialize.purge(conf, views)
        online = materialize.lookup(conf, drivers, "driver_trips_v1", at)
        assert (online[COUNT_WINDOWS] == 0).all().all()  # no trips held
        _assert_serves(conf, stats, "trips_stats_3h", CALENDAR[-1:])
        materialize.run(conf, start="2026-01-01", end="2026-01-12", views=views)
        _assert_serves(conf, activity, "driver_activity", ACTIVITY)
        online = materialize.lookup(conf, drivers, "driver_trips_v1", at)
        np.testing.assert_allclose(
            online["trips_7d"], windows_at(activity, drivers, at)["trips_7d"]
        )
