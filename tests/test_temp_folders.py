"""A test run leaves nothing behind in the system's temp folder: the default lineage events folder
(tests/conftest.py) goes when the run ends. pytest's own folders are pytest's (it keeps three).
Nor in the checkout: the session's catalog keeps its warehouse in pytest's folder."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import os

def test_probe():
    with open(os.environ["PROBE_OUT"], "w") as out:
        out.write(os.environ["TRIP_FEATURES_LINEAGE_EVENTS"])
"""


def test_a_run_removes_its_default_lineage_events_folder(tmp_path):
    temp, said = tmp_path / "temp", tmp_path / "events_path"
    temp.mkdir()
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "TRIP_FEATURES_LINEAGE_EVENTS"}
    env.update(TMPDIR=str(temp), PROBE_OUT=str(said))
    args = ["-p", "tests.conftest", "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider"]
    args += ["--basetemp", str(tmp_path / "base"), "-q", str(tmp_path / "test_probe.py")]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    events = Path(said.read_text())
    assert events.parent.parent == temp  # the run had its folder in the temp folder
    assert not events.parent.exists() and list(temp.iterdir()) == []


def test_the_sessions_catalog_keeps_its_warehouse_in_the_runs_folder(spark, tmp_path_factory):
    """With or without a metastore: an in-memory catalog made `spark-warehouse` in the cwd (the
    checkout) at its first table lookup."""
    assert not spark.catalog.tableExists("nowhere_table")
    warehouse = Path(urlparse(spark.conf.get("spark.sql.warehouse.dir")).path)
    assert warehouse.is_relative_to(tmp_path_factory.getbasetemp()), warehouse
    if spark.conf.get("spark.sql.catalogImplementation") == "in-memory":
        assert warehouse.is_dir()  # the lookup made it, there (a Hive metastore makes none)
