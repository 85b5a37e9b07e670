"""A real Spark Connect server from scripts/connect-server.sh, every job run through it from client
processes, and the results equal to local mode: features, training sets of both services (parquet,
table and SQL entities), materialization and online lookups."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs import compute_features, materialize, register, training_set
from tests.connect_clients import ConnectServer, run_client
from trip_features.runtime.config import apply_override, load_config
from trip_features.storage.sample_trips import generate_trips, write_trips

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
SERVICES = ("driver_activity_v1", "driver_trips_v1")


@pytest.fixture(scope="module")
def server(connect_server):
    return connect_server


def _client(server: ConnectServer, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    result = run_client([sys.executable, *args], server, timeout=600, cwd=cwd, env=env)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def _job(
    job: str, server: ConnectServer, workspace: Path, *args: str
) -> subprocess.CompletedProcess:
    return _client(server, "-m", f"jobs.{job}", "--remote", server, *args, cwd=workspace)


# The entity rows as a table of the server's catalog, then jobs.training_set run through one
# Connect session for each command line given. The session is the client's, as a notebook's is:
# the jobs reuse it, so the client ships the project's code to it (as notebook_runner does).
_TRAINING_SETS = """
import json, sys
from pyspark.sql import SparkSession
from jobs import training_set
from trip_features.runtime.session import ship_project
url, entities, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
spark = SparkSession.builder.remote(url).getOrCreate()
ship_project(spark)
spark.read.parquet(entities).write.mode("overwrite").saveAsTable("connect_entities")
for args in runs:
    if training_set.main(["--remote", url, *args]):
        sys.exit(f"jobs.training_set {args} failed")
"""


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    if "date" in frame:
        frame["date"] = frame["date"].astype(str)
    return frame.sort_values("trip_id", ignore_index=True)


def test_every_job_through_connect_equals_local_mode(server, spark, conf_at, tmp_path):
    remote = tmp_path / "remote"  # the client's workspace: data/ resolves there
    trips = remote / "data" / "trips"
    frame = generate_trips(rows=5_000, days=4, seed=17, drivers=30)
    frame.loc[frame.index[::700], "trip_dist"] = -3.0
    write_trips(frame, trips)
    entities = frame.sample(400, random_state=3)[["driver_id", "event_timestamp"]].copy()
    entities["event_timestamp"] += pd.Timedelta(minutes=20)
    entities["request_timestamp"] = entities["event_timestamp"]
    entities["label"] = np.arange(len(entities))
    entities.to_parquet(tmp_path / "entities.parquet", coerce_timestamps="us")

    local = conf_at(tmp_path / "local", trips=trips)
    compute_features.run(spark, local)
    register.run(local)

    _job("compute_features", server, remote)
    for table in ("trips_stats_3h", "driver_activity", "quarantine"):
        pd.testing.assert_frame_equal(
            _read(remote / "data" / "features" / table),
            _read(tmp_path / "local" / "features" / table),
            obj=table,
        )
    _job("register", server, remote)
    sources = {
        "parquet": str(tmp_path / "entities.parquet"),
        "table": "connect_entities",
        "sql": f"SELECT * FROM parquet.`{tmp_path / 'entities.parquet'}` ORDER BY label",
    }
    # Reading the entity rows does not depend on the service: each kind is asked once, and each
    # service at least once. The training sets share one client process, as a notebook's cells
    # share its session (a client process costs seconds).
    asked = [
        (service, kind, remote / f"ts_{service}_{kind}")
        for service, kinds in {
            "driver_activity_v1": ("parquet",),
            "driver_trips_v1": ("table", "sql"),
        }.items()
        for kind in kinds
    ]
    runs = [
        ["--entities", sources[kind], "--service", service, "--out", str(out)]
        for service, kind, out in asked
    ]
    _client(
        server,
        "-c",
        _TRAINING_SETS,
        server,
        sources["parquet"],
        json.dumps(runs),
        cwd=remote,
    )
    for service in SERVICES:
        expected_out = tmp_path / "local" / f"ts_{service}"
        training_set.run(spark, local, sources["parquet"], service, str(expected_out))
        expected = pd.read_parquet(expected_out).sort_values("label", ignore_index=True)
        for kind, out in [(kind, out) for s, kind, out in asked if s == service]:
            got = pd.read_parquet(out).sort_values("label", ignore_index=True)
            pd.testing.assert_frame_equal(got, expected, obj=f"{service} from {kind}")

    _job("materialize", server, remote, "--start", "2026-01-01", "--end", "2026-01-20")
    materialize.run(local, start="2026-01-01", end="2026-01-20")
    drivers = sorted(frame["driver_id"].unique().tolist())[:10]
    remote_conf = apply_override(
        conf_at(remote / "data", trips=trips),
        f"paths.online_store={remote / 'data/feast/online_store.db'}",
    )
    for service in SERVICES:  # request_* features are of the lookup's own time: left out
        got = materialize.lookup(remote_conf, drivers, service).filter(regex="^(?!request_)")
        want = materialize.lookup(local, drivers, service).filter(regex="^(?!request_)")
        assert got["trips_24h"].notna().all()
        pd.testing.assert_frame_equal(
            got[sorted(got.columns)], want[sorted(want.columns)], check_dtype=False
        )


def test_two_training_sets_built_before_either_is_read_keep_their_own_rows(server, tmp_path):
    """Feast's stock jobs share fixed temporary view names; the project's build their frames,
    and persist without sparkContext."""
    code = textwrap.dedent(
        """
        import sys
        import pandas as pd
        from pyspark.sql import SparkSession
        from trip_features.runtime.config import load_config
        from trip_features.runtime.session import get_spark
        from definitions.feature_store import feature_store
        from jobs import compute_features, register
        from trip_features.storage.sample_trips import generate_trips, write_trips

        conf = load_config("local", [f"spark.remote={sys.argv[1]}"])
        write_trips(generate_trips(rows=2000, days=2, seed=5, drivers=10), "data/trips")
        spark = get_spark(conf)
        compute_features.run(spark, conf)
        register.run(conf)
        store = feature_store(conf)
        service = store.get_feature_service("driver_activity_v1")
        when = pd.Timestamp("2026-01-06 12:00", tz="UTC")
        first = pd.DataFrame({"driver_id": [1000, 1001], "event_timestamp": [when, when]})
        second = pd.DataFrame({"driver_id": [1002, 1003, 1004], "event_timestamp": [when] * 3})
        job_one = store.get_historical_features(entity_df=first, features=service)
        job_two = store.get_historical_features(entity_df=second, features=service)
        assert job_one.to_df()["driver_id"].tolist() == [1000, 1001]
        assert job_two.to_df()["driver_id"].tolist() == [1002, 1003, 1004]
        # Persisting to a table: Feast's own asks sparkContext, which Connect has not.
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SavedDatasetSparkStorage,
        )
        job_two.persist(SavedDatasetSparkStorage(table="persisted_two"))
        assert spark.table("persisted_two").count() == 3
        print("own rows")
        """
    )
    result = _client(server, "-c", code, server, cwd=tmp_path)
    assert "own rows" in result.stdout


def test_the_server_runs_with_the_spark_settings_of_conf(server, tmp_path):
    """Its JVM got conf's settings when it started, its heap among them: a session that sets
    nothing sees them (it ran every session on Spark's 1 GiB default, its sorts spilling)."""
    code = textwrap.dedent(
        """
        import sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
        for key in ("spark.driver.memory", "spark.sql.files.maxPartitionBytes"):
            print(key, spark.conf.get(key))
        """
    )
    result = _client(server, "-c", code, server, cwd=tmp_path)
    expected = load_config("local").spark.conf
    seen = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert seen == {
        key: str(expected[key])
        for key in ("spark.driver.memory", "spark.sql.files.maxPartitionBytes")
    }


def test_the_sessions_python_workers_get_the_environment_conf_gives_executors(server, tmp_path):
    """conf's spark.executorEnv reaches the Python workers of a Connect session (the server
    hands them its own environment): HAMILTON_AUTOLOAD_EXTENSIONS=0 spares each worker Hamilton's
    imports of dask, matplotlib and the rest when it imports the transforms."""
    code = textwrap.dedent(
        """
        import sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()

        def seen(batches):
            import os
            import pyarrow as pa
            value = os.environ.get("HAMILTON_AUTOLOAD_EXTENSIONS", "unset")
            for _ in batches:
                yield pa.RecordBatch.from_pydict({"value": [value]})

        print(spark.range(1).mapInArrow(seen, "value string").first()["value"])
        """
    )
    result = _client(server, "-c", code, server, cwd=tmp_path)
    expected = load_config("local").spark.conf["spark.executorEnv.HAMILTON_AUTOLOAD_EXTENSIONS"]
    assert result.stdout.strip().splitlines()[-1] == expected == "0"


def test_a_connect_url_with_nothing_behind_it_is_a_clear_error(tmp_path, unused_port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.compute_features",
            "--remote",
            f"sc://127.0.0.1:{unused_port}",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"no Spark Connect server answers at sc://127.0.0.1:{unused_port}" in result.stderr
    assert not (tmp_path / "out").exists()
