"""One local[2] Spark session for the whole run, built by the same helper the jobs use."""

import os
from pathlib import Path

import pytest

os.environ["TZ"] = "UTC"  # before pandas or Spark read the process zone


@pytest.fixture(scope="session")
def conf(tmp_path_factory):
    """The local configuration; the session has a Hive metastore of its own (embedded Derby) so
    the catalog publication can be tested, while files publication stays the default."""
    from runtime.config import load_config

    return load_config(
        "local",
        [
            "spark.conf.spark.sql.shuffle.partitions=2",
            "spark.conf.spark.driver.memory=2g",
            "spark.app_name=trip-features-tests",
            f"paths.metastore={tmp_path_factory.mktemp('metastore')}",
        ],
    )


@pytest.fixture(scope="session")
def spark(conf):
    from runtime.session import get_spark

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
    from runtime.config import apply_override

    def at(root: Path, trips: Path | None = None) -> dict:
        placed = conf
        for override in (
            f"paths.trips={trips or root / 'trips'}",
            f"paths.features={root / 'features'}",
            f"paths.registry={root / 'feast' / 'registry.db'}",
            f"paths.online_store={root / 'feast' / 'online.db'}",
        ):
            placed = apply_override(placed, override)
        return placed

    return at
