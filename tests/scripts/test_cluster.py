"""A real standalone cluster (master + 2 workers of 1 core) from scripts/cluster.sh, the pipeline
submitted to it by scripts/submit.sh, and its output equal to a local-mode run of the same input."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from jobs import compute_features, register, training_set
from transforms.feature_tables import TABLES

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _script(*args, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "TRIP_FEATURES_CLUSTER_DIR": str(state)}
    cluster_sh = PROJECT / "scripts" / "cluster.sh"
    try:
        started = _script(cluster_sh, "start", "--workers", "2", "--cores", "1", env=env)
        assert started.returncode == 0, started.stderr[-3000:]
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("spark://127.0.0.1:")
        again = _script(cluster_sh, "start", env=env)
        assert again.returncode == 2 and "already running" in again.stderr
        yield url, state
    finally:
        stopped = _script(cluster_sh, "stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        for pidfile in state.glob("*.pid"):
            pytest.fail(f"{pidfile} left behind")


def _submission(url: str, workers_python, *job) -> tuple[list[str], dict[str, str]]:
    """The command line of scripts/submit.sh for `job`, and its environment: this one without
    this run's Spark variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    submit = PROJECT / "scripts" / "submit.sh"
    return [str(submit), "--master", url, "--workers-python", str(workers_python), *job], env


def _submit(url: str, workers_python, *job, cwd: Path) -> subprocess.CompletedProcess:
    """scripts/submit.sh from `cwd` (the job's workspace)."""
    args, env = _submission(url, workers_python, *job)
    return _script(*args, env=env, cwd=cwd)


def _master_state(state: Path) -> dict:
    port = (state / "master.webui").read_text().strip()
    return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5))


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    if "date" in frame:
        frame["date"] = frame["date"].astype(str)
    return frame.sort_values("trip_id", ignore_index=True) if "trip_id" in frame else frame


def test_a_master_nobody_listens_on_is_a_clear_error(workers_python, tmp_path, unused_port):
    nowhere = f"spark://127.0.0.1:{unused_port}"
    job = ("jobs.compute_features", "--trips", tmp_path / "none", "--out", tmp_path / "out")
    result = _submit(nowhere, workers_python, *job, cwd=tmp_path)
    assert result.returncode == 2
    said = result.stdout + result.stderr
    assert f"no Spark master answers at spark://127.0.0.1:{unused_port}" in said
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("given", [("--env", "nosuch"), ("--env=nosuch",)])
def test_an_unknown_environment_is_named_before_anything_is_built(
    workers_python, tmp_path, unused_port, given
):
    """The driver's JVM flags come from the job's --env, read before the wheel is built."""
    job = ("jobs.compute_features", "--out", tmp_path / "out", *given)
    result = _submit(f"spark://127.0.0.1:{unused_port}", workers_python, *job, cwd=tmp_path)
    assert result.returncode != 0
    assert "submit.sh: unknown environment 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_workers_without_the_dependencies_are_a_clear_error(cluster, tmp_path):
    from trip_features.storage.sample_trips import generate_trips, write_trips

    url, _ = cluster
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    write_trips(generate_trips(rows=500, days=2, seed=1, drivers=5), tmp_path / "trips")
    job = ("jobs.compute_features", "--trips", tmp_path / "trips", "--out", tmp_path / "out")
    result = _submit(url, bare / "bin" / "python", *job, cwd=tmp_path)
    said = result.stdout + result.stderr
    assert result.returncode == 2, said[-3000:]
    assert "the executors' Python cannot import" in said
    assert not (tmp_path / "out" / "trips_stats_3h").exists()


def test_the_pipeline_on_a_cluster_loses_a_worker_and_equals_local_mode(
    cluster, workers_python, spark, conf_at, tmp_path
):
    """jobs.pipeline submitted to the cluster, its second worker killed (by its pid) once the job
    says it computes its second table: Spark re-runs the lost tasks on the other worker, the
    application finishes, and its tables and training set equal a local-mode run's. Last in the
    module: the cluster keeps one worker after it."""
    url, state = cluster
    work = tmp_path / "submitted"
    work.mkdir()
    generate = ("generate.rows=200000", "generate.days=6", "generate.drivers=200")
    pipeline = ("jobs.pipeline", *(a for setting in generate for a in ("--set", setting)))
    args, env = _submission(url, workers_python, *pipeline)
    earlier = {a["id"] for a in _master_state(state)["completedapps"]}
    job = subprocess.Popen(
        ["bash", *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: the deadline stops the driver's Python too
    )
    said = []
    worker = state / "worker-2.pid"
    # A job that hangs without a word would hold the loop below: its whole group goes at 600 s
    deadline = threading.Timer(600, os.killpg, (job.pid, signal.SIGKILL))
    deadline.start()
    try:
        for line in job.stdout:
            said.append(line)
            if "computing driver_activity" in line and worker.exists():
                time.sleep(1)  # into the table's first stage
                os.kill(int(worker.read_text()), signal.SIGKILL)
                worker.unlink()
        assert job.wait(600) == 0, "".join(said)[-4000:]
    finally:
        deadline.cancel()
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    said = "".join(said)
    assert "pipeline summary" in said
    assert f"master {url}" in said
    assert not worker.exists(), "the job never reached its second table"
    assert "Lost executor" in said, "the worker died after its tasks were done"
    # what the killed worker's executor could not clean up is in the worker's folder, not /tmp
    assert list(state.glob("worker-2/local/spark-*")), sorted(map(str, state.rglob("*")))
    apps = [a for a in _master_state(state)["completedapps"] if a["id"] not in earlier]
    assert [(a["name"], a["state"]) for a in apps] == [("trip-features", "FINISHED")]
    for name in ("worker-1", "worker-2"):  # both workers ran executors of this application
        ran = list((state / name / apps[0]["id"]).glob("*/stderr"))
        assert ran, f"{name} ran no executor of {apps[0]['id']}"

    data = work / "data"
    local = tmp_path / "local"
    conf = conf_at(local, trips=data / "trips")
    compute_features.run(spark, conf)
    for table in (*TABLES, "quarantine"):
        pd.testing.assert_frame_equal(
            _read(data / "features" / table), _read(local / "features" / table), obj=table
        )
    register.run(conf)
    training_set.run(
        spark, conf, str(data / "training_entities"), "driver_trips_v1", str(local / "ts")
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(data / "training_sets" / "driver_trips_v1"), pd.read_parquet(local / "ts")
    )
