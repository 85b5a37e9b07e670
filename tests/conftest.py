"""One local[2] Spark session for the whole run, built by the same helper the jobs use."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ["TZ"] = "UTC"  # before pandas or Spark read the process zone
# Jobs the tests run (in process or not) without paths of their own emit their lineage events
# here, not into the checkout's data/; the folder goes when the run ends.
_DEFAULT_EVENTS = None
if "TRIP_FEATURES_LINEAGE_EVENTS" not in os.environ:
    _DEFAULT_EVENTS = tempfile.mkdtemp(prefix="trip-features-tests-")
    os.environ["TRIP_FEATURES_LINEAGE_EVENTS"] = os.path.join(_DEFAULT_EVENTS, "events.jsonl")


def pytest_unconfigure(config):
    if _DEFAULT_EVENTS:
        shutil.rmtree(_DEFAULT_EVENTS, ignore_errors=True)


@pytest.fixture(scope="session")
def conf(request, tmp_path_factory):
    """The local configuration. When a selected test is marked `metastore` (the catalog
    publication), the session has a Hive metastore of its own (embedded Derby); otherwise its
    catalog is in memory, as conf/local.yaml's, and no test waits ~3 s for Derby to start."""
    from trip_features.runtime.config import load_config

    wanted = any(item.get_closest_marker("metastore") for item in request.session.items)
    # Else the in-memory catalog's warehouse, which its first table lookup makes, in the run's
    # folder: by default it is spark-warehouse/ in the cwd, the checkout.
    catalog = (
        f"paths.metastore={tmp_path_factory.mktemp('metastore')}"
        if wanted
        else f"spark.conf.spark.sql.warehouse.dir={tmp_path_factory.mktemp('warehouse')}"
    )
    return load_config(
        "local",
        [
            "spark.conf.spark.sql.shuffle.partitions=2",
            "spark.conf.spark.driver.memory=2g",
            # Jobs keep it on (a failing expression's error names the transform line that made
            # it); it costs each column function five py4j round trips: a tenth of the fast tier.
            "spark.conf.spark.python.sql.dataFrameDebugging.enabled=false",
            "spark.app_name=trip-features-tests",
            f"paths.lineage_events={tmp_path_factory.mktemp('lineage') / 'events.jsonl'}",
            catalog,
        ],
    )


@pytest.fixture(scope="session")
def spark(conf):
    from trip_features.runtime.session import get_spark

    session = get_spark(conf)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def workers_python(tmp_path_factory):
    """A Python with the project's dependencies but not the project: executors started with it
    can only run the project's code that the job ships to them."""
    import subprocess
    import sys
    import sysconfig

    venv = tmp_path_factory.mktemp("workers") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A path entry, not a site dir: the dependencies, without this checkout's editable hook.
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    probe = subprocess.run(
        [str(python), "-c", "import numpy, numba, pyarrow, feast, pyspark; import transforms"],
        capture_output=True,
        text=True,
        cwd=venv,
    )
    assert "No module named 'transforms'" in probe.stderr, probe.stderr[-1000:]
    return str(python)


@pytest.fixture(scope="session")
def project_wheel() -> Path:
    """The project's wheel as scripts/submit.sh and the Databricks bundle build it, in the
    checkout's wheel cache (built once per change of the sources)."""
    from trip_features.runtime.project_wheel import WHEEL_CACHE, built_wheel

    root = Path(__file__).resolve().parents[1]
    return built_wheel(root, root / WHEEL_CACHE)


@pytest.fixture
def unused_port():
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def conf_at(conf):
    """conf with its data under `root`: features, the Feast registry and online store (and the
    trips, unless given)."""
    from trip_features.runtime.config import apply_override
    from trip_features.runtime.settings import Settings

    def at(root: Path, trips: Path | None = None) -> Settings:
        return apply_override(
            conf,
            f"paths.trips={trips or root / 'trips'}",
            f"paths.features={root / 'features'}",
            f"paths.registry={root / 'feast' / 'registry.db'}",
            f"paths.online_store={root / 'feast' / 'online.db'}",
            f"paths.lineage_events={root / 'lineage' / 'events.jsonl'}",
        )

    return at


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free loopback port, stopped by its pid (.ci/run installs it)."""
    import signal
    import socket
    import subprocess
    import time

    from tests.processes import stop
    from tests.required_programs import required_program

    binary = required_program("redis-server", package="redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder), "--daemonize", "no", "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as link:
                    link.sendall(b"PING\r\n")
                    if link.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert server.poll() is None, (folder / "redis.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "redis-server did not answer within 30 s"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        stop(server, signal.SIGTERM, timeout=15)


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory, workers_python):
    """A Spark Connect server (scripts/connect-server.sh) whose Python workers have the
    dependencies but not the project: clients ship it (spark.addArtifacts). Its URL, with its pid
    and log (tests.connect_clients); stopped by its pid, and an error if it died on the way."""
    import subprocess

    from tests.connect_clients import ConnectServer

    state = tmp_path_factory.mktemp("connect")
    # A server's environment, not this process's: importing jobs set HAMILTON_AUTOLOAD_EXTENSIONS.
    own = {k: v for k, v in os.environ.items() if k != "HAMILTON_AUTOLOAD_EXTENSIONS"}
    env = {**own, "TRIP_FEATURES_CONNECT_DIR": str(state), "PYTHON": workers_python}
    script = Path(__file__).resolve().parents[1] / "scripts" / "connect-server.sh"
    try:
        started = subprocess.run(
            ["bash", script, "start"], capture_output=True, text=True, env=env, timeout=180
        )
        assert started.returncode == 0, started.stderr[-3000:]
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("sc://127.0.0.1:")
        server = ConnectServer(url, state)
        yield server
        assert server.alive(), server.obituary()
        assert any((state / "tmp").iterdir()), "the server's temp files are not in its folder"
    finally:
        subprocess.run(["bash", script, "stop"], env=env, timeout=60, check=True)
        assert not (state / "server.pid").exists()
        assert not (state / "tmp").exists(), "stop leaves the server's temp files behind"


@pytest.fixture(scope="session")
def trips(tmp_path_factory):
    """Two trip inputs ("old", "new") whose features differ, both with rows to quarantine: for
    the tests that publish one version over another."""
    from trip_features.storage.sample_trips import generate_trips, write_trips

    root = tmp_path_factory.mktemp("trips")
    paths = {}
    for name, seed in (("old", 4), ("new", 5)):
        frame = generate_trips(rows=8_000, days=6, seed=seed, drivers=60)
        frame.loc[frame.index[::400], "trip_dist"] = -1.0  # negative_distance: quarantined
        write_trips(frame, root / name)
        paths[name] = str(root / name)
    return paths


@pytest.fixture(scope="session")
def feast_conf(spark, conf_at, tmp_path_factory):
    """Features of 8,000 trips, registered; the sqlite online store; a repo for the feast CLI."""
    from definitions.feature_store import write_repo
    from jobs import compute_features, register
    from trip_features.storage.sample_trips import generate_trips, write_trips

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
    from definitions.feature_store import write_repo
    from jobs import register
    from trip_features.runtime.config import apply_override

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
