"""The OpenLineage events the jobs emit, read back from the file transport: inputs, outputs,
row counts, and column lineage checked against the transform functions' own parameters."""

import inspect
import json

import pandas as pd
import pytest

from jobs import compute_features, materialize, training_set
from transforms import driver_windows, rolling_windows
from transforms.feature_tables import TABLES
from transforms.trips_contract import TRIPS_COLUMNS


def _events(conf) -> list[dict]:
    with open(conf.paths.lineage_events) as handle:
        return [json.loads(line) for line in handle]


def _last(conf, job: str, state: str = "COMPLETE") -> dict:
    found = [e for e in _events(conf) if e["job"]["name"] == job and e["eventType"] == state]
    assert found, f"no {state} event of {job}"
    return found[-1]


def _columns_read_by(fn) -> set[str]:
    """The trips columns a transform function takes: the reference for column lineage."""
    return set(inspect.signature(fn).parameters) & set(TRIPS_COLUMNS)


def test_the_feature_run_names_its_input_outputs_and_column_lineage(feast_conf):
    conf, tmp = feast_conf
    event = _last(conf, "compute_features")
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("file", conf.paths.trips)]
    outputs = {d["name"].rsplit("/", 1)[-1]: d for d in event["outputs"]}
    assert set(outputs) == {*TABLES, "quarantine"}
    activity = outputs["driver_activity"]
    written = len(pd.read_parquet(tmp / "features" / "driver_activity"))
    assert activity["outputFacets"]["outputStatistics"]["rowCount"] == written
    schema = {f["name"]: f["type"] for f in activity["facets"]["schema"]["fields"]}
    assert schema["trips_1h"] == "bigint" and schema["mean_dist_24h"] == "double"
    lineage = activity["facets"]["columnLineage"]["fields"]
    for feature, fn in (
        ("trips_1h", driver_windows.driver_count__pandas),
        ("mean_dist_24h", driver_windows.driver_measure__pandas),
    ):
        inputs = lineage[feature]["inputFields"]
        assert {i["name"] for i in inputs} == {conf.paths.trips}
        assert {i["field"] for i in inputs} == _columns_read_by(fn)
    stats = outputs["trips_stats_3h"]["facets"]["columnLineage"]["fields"]
    rolling = {i["field"] for i in stats["percentile_dist_rolling_3h"]["inputFields"]}
    assert rolling == _columns_read_by(rolling_windows.rolling_percentile__pandas)
    assert [i["field"] for i in stats["is_weekend"]["inputFields"]] == ["event_timestamp"]
    identity = lineage["trip_id"]["inputFields"][0]["transformations"][0]
    assert identity["subtype"] == "IDENTITY"


def test_a_failed_feature_run_emits_fail(spark, feast_conf, tmp_path):
    conf, _ = feast_conf
    with pytest.raises(FileNotFoundError):
        compute_features.run(spark, conf, trips=str(tmp_path / "no_trips"), out=str(tmp_path))
    fail = _last(conf, "compute_features", "FAIL")
    assert "cannot read trips" in fail["run"]["facets"]["errorMessage"]["message"]
    # A failed run still writes its quality report and page.
    page = (tmp_path / "_reports" / "latest.html").read_text()
    assert 'class="failed">failed</span>' in page and "cannot read trips" in page


def test_training_set_and_materialization_lineage(spark, feast_conf):
    conf, tmp = feast_conf
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    entities = activity[["driver_id", "event_timestamp"]].head(50).copy()
    entities["request_timestamp"] = entities["event_timestamp"]
    entities.to_parquet(tmp / "lineage_entities.parquet", coerce_timestamps="us")
    out = str(tmp / "lineage_training_set")
    rows = training_set.run(
        spark, conf, str(tmp / "lineage_entities.parquet"), "driver_trips_v1", out
    )
    event = _last(conf, "training_set")
    names = {d["name"] for d in event["inputs"]}
    features = conf.paths.features
    assert names == {
        str(tmp / "lineage_entities.parquet"),
        f"{features}/trips_stats_3h",
        f"{features}/driver_activity",
    }
    (output,) = event["outputs"]
    assert output["name"] == out and output["outputFacets"]["outputStatistics"]["rowCount"] == rows
    lineage = output["facets"]["columnLineage"]["fields"]
    assert set(lineage) == set(pd.read_parquet(out).columns)
    # A window at the row's time reads the table's trips (their times, and the measure of a
    # mean) and the row's time.
    read = {(f["name"], f["field"]) for f in lineage["trips_7d"]["inputFields"]}
    entity_file = str(tmp / "lineage_entities.parquet")
    assert read == {
        (f"{features}/driver_activity", "event_timestamp"),
        (entity_file, "event_timestamp"),
    }
    read = {(f["name"], f["field"]) for f in lineage["mean_dist_24h"]["inputFields"]}
    assert (f"{features}/driver_activity", "trip_dist") in read
    (request,) = lineage["request_hour_of_day"]["inputFields"]
    assert request["field"] == "request_timestamp"

    materialize.run(conf, start="2026-01-01", end="2026-01-12", views=["driver_activity"])
    event = _last(conf, "materialize")
    assert [d["name"] for d in event["inputs"]] == [f"{features}/driver_activity"]
    (online,) = event["outputs"]
    assert online["namespace"] == "sqlite" and online["name"].endswith("_driver_activity")
    assert set(online["facets"]["columnLineage"]["fields"]) >= {"trips_1h", "max_dist_24h"}
