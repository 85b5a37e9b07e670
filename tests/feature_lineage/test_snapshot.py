"""Change control: the committed snapshot and docs/lineage.md equal the code, and a difference
is reported with what it reaches and how to accept it."""

import copy

from jobs.lineage import check_or_update
from trip_features.feature_lineage.docs_page import PAGE
from trip_features.feature_lineage.snapshot import (
    SNAPSHOT,
    UPDATE_COMMAND,
    compare,
    explain,
    read_snapshot,
    snapshot_of,
)
from trip_features.runtime.config import load_config


def test_the_committed_snapshot_and_lineage_page_are_current():
    code, message = check_or_update(load_config("local"), update=False)
    assert code == 0, message


def test_a_changed_transform_names_what_it_reaches(graph):
    committed = snapshot_of(graph)
    assert not compare(graph, committed)
    edited = copy.deepcopy(committed)
    edited["nodes"]["driver_windowed"]["code"] = "0" * 12  # as if the code had been this
    diff = compare(graph, edited)
    assert diff.touched == {"driver_windowed"}
    message = explain(graph, diff)
    assert "~ node driver_windowed: code 000000000000 -> " in message
    assert "tables: driver_activity\n" in message  # trips_stats_3h does not read it
    assert "views: driver_activity_recent_trips_view, driver_activity_view\n" in message
    assert "on demand views: driver_activity_now_view\n" in message
    assert "services: driver_activity_v1, driver_trips_v1\n" in message
    assert UPDATE_COMMAND in message


def test_a_new_edge_and_a_removed_node_are_reported(graph):
    edited = copy.deepcopy(snapshot_of(graph))
    edited["edges"].remove("trips_ranked -> trips_stats_3h")
    edited["nodes"]["old_feature"] = {"kind": "transform", "code": "1" * 12}
    diff = compare(graph, edited)
    assert "+ edge trips_ranked -> trips_stats_3h" in diff.lines
    assert "- node old_feature (transform)" in diff.lines
    message = explain(graph, diff)
    assert "tables: trips_stats_3h\n" in message
    assert "services: driver_trips_v1\n" in message  # driver_activity_v1 has no trip stats


def test_a_changed_feast_definition_is_reported(graph):
    edited = copy.deepcopy(snapshot_of(graph))
    edited["nodes"]["trips_stats_3h_view"]["definition"] = "2" * 12
    diff = compare(graph, edited)
    assert diff.touched == {"trips_stats_3h_view"}
    assert "services: driver_trips_v1\n" in explain(graph, diff)


def test_update_writes_what_check_then_accepts(tmp_path, monkeypatch):
    import jobs.lineage
    import trip_features.feature_lineage.docs_page
    import trip_features.feature_lineage.snapshot

    snapshot, page = tmp_path / "snapshot.json", tmp_path / "lineage.md"
    monkeypatch.setattr(trip_features.feature_lineage.snapshot, "SNAPSHOT", snapshot)
    monkeypatch.setattr(trip_features.feature_lineage.docs_page, "PAGE", page)
    conf = load_config("local")
    code, message = jobs.lineage.check_or_update(conf, update=False)
    assert code == 1 and "+ node driver_trips_v1 (service)" in message
    assert jobs.lineage.check_or_update(conf, update=True)[0] == 0
    assert snapshot.read_text() == SNAPSHOT.read_text()
    assert page.read_text() == PAGE.read_text()
    page.write_text(page.read_text() + "edited by hand\n")
    code, message = jobs.lineage.check_or_update(conf, update=False)
    assert code == 1 and "lineage.md is stale" in message


def test_the_snapshot_holds_every_node_and_edge(graph):
    committed = read_snapshot()
    assert set(committed["nodes"]) == set(graph.nodes)
    assert len(committed["edges"]) == len(graph.edges)
