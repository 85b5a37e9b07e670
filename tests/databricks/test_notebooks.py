"""The Databricks notebooks, run cell by cell (tests/databricks/notebook_runner.py) against the
test's local session and, in a client process of its own, against a Spark Connect server (what
Databricks shared and serverless compute run), each checked for what it produced."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.connect_clients import run_client
from tests.databricks.notebook_runner import as_rows, cells, run_notebook
from tests.oracles import windows_at
from trip_features.storage.sample_trips import generate_trips, write_trips

pytestmark = pytest.mark.slow  # starts processes or servers: the full suite runs it

PROJECT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("*.py"))
DRIVERS = [1000, 1001, 1002]
ASKED = "2026-01-09T18:30:00"  # the moment the notebook asks at, inside the trips' days


def test_every_notebook_is_a_databricks_source_notebook_that_compiles():
    assert [n.name[:3] for n in NOTEBOOKS] == ["01_", "02_", "03_", "04_"]
    for notebook in NOTEBOOKS:
        found = cells(notebook)
        assert found[0].kind == "md", f"{notebook.name} opens with a description"
        assert {c.kind for c in found} <= {"md", "python"}, notebook.name
        for number, cell in enumerate(found, 1):
            if cell.kind == "python":
                compile(cell.source, f"{notebook.name}[{number}]", "exec")


@pytest.fixture(scope="module")
def trips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook_trips") / "trips"
    frame = generate_trips(rows=6_000, days=6, seed=11, drivers=40)
    frame.loc[frame.index[::500], "trip_dist"] = -1.0  # quarantined: negative_distance
    write_trips(frame, folder)
    return folder, len(frame)


def _widgets(root: Path, trips: Path) -> dict[str, dict[str, str]]:
    overrides = ";".join(
        [
            f"paths.trips={trips}",
            f"paths.features={root / 'features'}",
            f"paths.registry={root / 'feast' / 'registry.db'}",
            f"paths.online_store={root / 'feast' / 'online.db'}",
            f"paths.lineage_events={root / 'lineage' / 'events.jsonl'}",
            "spark.conf.spark.sql.shuffle.partitions=2",
        ]
    )
    common = {"env": "local", "overrides": overrides}
    return {
        "01_compute_features.py": common,
        "02_training_set.py": {**common, "entity_rows": "400"},
        "03_materialize_and_look_up.py": {
            **common,
            "start": "2026-01-01",
            "end": ASKED,  # materialized up to the moment it asks at, as a model server runs
            "drivers": ",".join(map(str, DRIVERS)),
            "at": ASKED,
        },
        "04_quality_and_lineage.py": common,
    }


def _check(shown: dict[str, list[list[dict]]], root: Path, read: int) -> None:
    """What each notebook displayed, against the files the jobs wrote."""
    counts = {r["measure"]: r["value"] for r in shown["01_compute_features.py"][0]}
    assert counts["trips read"] == read
    assert counts["trips accepted"] + counts["trips quarantined"] == read
    assert counts["quarantined: negative_distance"] == counts["trips quarantined"] > 0
    assert counts["rows written: driver_activity"] == counts["trips accepted"]
    assert len(shown["01_compute_features.py"][1]) == 20

    training = pd.read_parquet(root / "features" / ".." / "training_sets" / "driver_trips_v1")
    assert len(training) == 400 and training["percentile_dist_rolling_3h"].notna().any()
    assert len(shown["02_training_set.py"][0]) == 20

    activity = pd.read_parquet(root / "features" / "driver_activity")
    expected = windows_at(activity, DRIVERS, pd.Timestamp(ASKED, tz="UTC"))
    online = pd.DataFrame(shown["03_materialize_and_look_up.py"][0]).set_index("driver_id")
    assert online.loc[DRIVERS, "trips_24h"].tolist() == expected["trips_24h"].tolist()

    reasons, columns, lineage = shown["04_quality_and_lineage.py"]
    assert reasons == [{"rule": "negative_distance", "trips": counts["trips quarantined"]}]
    profiled = {(c["table"], c["column"]): c for c in columns}
    assert profiled[("driver_activity", "trips_24h")]["min"] is not None
    assert profiled[("driver_activity", "trips_24h")]["checks_passed"] is True
    edges = {(e["node"], e["depends_on"]) for e in lineage}
    emitted = (root / "lineage" / "events.jsonl").read_text()
    for job in ("compute_features", "training_set", "materialize"):
        assert f'"name": "{job}"' in emitted, f"the notebooks' {job} run emitted no event"
    assert ("percentile_dist_rolling_3h", "trip_dist") in edges
    assert ("trips", "trips_raw") in edges


def test_the_notebooks_run_in_order_on_a_local_session(spark, trips, tmp_path):
    folder, read = trips
    widgets = _widgets(tmp_path, folder)
    shown = {}
    for notebook in NOTEBOOKS:
        run = run_notebook(notebook, spark, widgets[notebook.name])
        shown[notebook.name] = [as_rows(d) for d in run.displayed]
    _check(shown, tmp_path, read)


@pytest.mark.slow
def test_the_notebooks_run_in_order_on_spark_connect(connect_server, trips, tmp_path):
    folder, read = trips
    done = run_client(
        [sys.executable, "-m", "tests.databricks.notebook_runner", "--remote", connect_server]
        + ["--widgets", json.dumps(_widgets(tmp_path, folder)), *map(str, NOTEBOOKS)],
        connect_server,
        timeout=900,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    _check(json.loads(done.stdout.strip().splitlines()[-1]), tmp_path, read)
