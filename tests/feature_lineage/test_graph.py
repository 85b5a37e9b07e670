"""The lineage graph against independent references: the Feast objects the definitions DAG
builds, the feature catalogue, and functions written for the test."""

import importlib
import sys
import textwrap

from definitions.feast_dataflow import build_definitions
from transforms.feature_catalogue import KEY_COLUMNS, Catalogue
from transforms.trips_contract import TRIPS_COLUMNS
from trip_features.feature_lineage.fingerprints import fingerprint
from trip_features.feature_lineage.graph import build_graph, column_lineage
from trip_features.runtime.config import load_config


def test_each_service_is_made_of_the_views_feast_says(graph):
    objects = build_definitions(load_config("local"))
    services = {o.name: o for o in objects.values() if type(o).__name__ == "FeatureService"}
    assert sorted(services) == graph.of_kind("service")
    for name, service in services.items():
        expected = {p.name for p in service.feature_view_projections}
        views = graph.of_kind("view", "on_demand_view", among=graph.parents(name))
        assert {graph.nodes[v].feast_name for v in views} == expected


def test_a_source_reads_the_table_its_path_names(graph):
    objects = build_definitions(load_config("local"))
    for name in graph.of_kind("source"):
        table = objects[name].path.rstrip("/").rsplit("/", 1)[-1]
        assert graph.parents(name) == [table]
        assert graph.nodes[table].kind == "table"


def test_every_feature_reaches_its_table_and_the_services_from_the_trips_columns(graph):
    catalogue = Catalogue.from_conf(load_config("local").features)
    for feature in catalogue.features():
        upstream = graph.upstream(feature.name)
        assert "trips_raw" in upstream
        assert feature.of is None or feature.of in upstream  # the measure it aggregates
        assert "event_timestamp" in upstream  # every window and calendar feature is timed
        downstream = graph.downstream(feature.name)
        assert feature.table in downstream
        assert graph.of_kind("service", among=downstream), feature.name


def test_the_spark_job_nodes_are_in_the_graph_with_their_engines(graph):
    assert graph.nodes["driver_windowed"].engines == {"spark"}
    assert graph.nodes["day_of_week"].engines == {"pandas", "spark", "python"}
    assert "driver_windowed" in graph.parents("driver_activity")
    assert "trips_ranked" in graph.parents("trips_stats_3h")
    # The on-demand view runs the calendar transforms on the request time.
    assert {"day_of_week", "is_weekend", "hour_of_day"} <= set(
        graph.parents("request_calendar_view")
    )


def test_column_lineage_of_the_tables(graph):
    catalogue = Catalogue.from_conf(load_config("local").features)
    activity = column_lineage(graph, "driver_activity", catalogue.columns("driver_activity"))
    for key in KEY_COLUMNS:
        assert activity[key] == [key]
    assert "trip_dist" in activity["mean_dist_24h"]
    stats = column_lineage(graph, "trips_stats_3h", catalogue.columns("trips_stats_3h"))
    assert stats["is_weekend"] == ["event_timestamp"]  # through day_of_week
    assert set(stats["percentile_dist_rolling_3h"]) >= {"event_timestamp", "trip_dist"}


def test_unused_finds_dead_code_and_unread_columns(tmp_path, monkeypatch):
    (tmp_path / "dead_features.py").write_text(
        textwrap.dedent(
            '''
            import pandas as pd

            def trip_speed(trip_dist: pd.Series, rider_id: pd.Series) -> pd.Series:
                """A transform no table or service uses."""
                return trip_dist / rider_id
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("dead_features")
    conf = load_config("local")
    graph = build_graph(conf, extra_modules=(module,))
    read = {c for f in Catalogue.from_conf(conf.features).features() for c in [f.of] if c}
    read |= set(KEY_COLUMNS)
    unread = sorted(set(TRIPS_COLUMNS) - read)
    assert graph.unused() == sorted(["trip_speed", *unread])
    sys.modules.pop("dead_features")


def _fingerprint_of(tmp_path, monkeypatch, variant: str, source: str) -> str:
    """The fingerprint of `feature` in a package `fp_case` (the same name for every variant, as
    an edited module keeps its name) written with `source`."""
    folder = tmp_path / variant / "fp_case"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "features.py").write_text(textwrap.dedent(source))
    for name in ("fp_case.features", "fp_case"):
        sys.modules.pop(name, None)
    with monkeypatch.context() as patch:
        patch.syspath_prepend(str(tmp_path / variant))
        module = importlib.import_module("fp_case.features")
        return fingerprint([module.feature], packages=("fp_case",))


BASE = '''
LIMIT = 5

def _helper(x):
    return x + LIMIT

def feature(x):
    """Doc."""
    return _helper(x) * 2
'''


def test_fingerprints_follow_code_not_layout(tmp_path, monkeypatch):
    base = _fingerprint_of(tmp_path, monkeypatch, "base", BASE)
    relaid = BASE.replace('"""Doc."""', '"""Another doc."""  # and a comment').replace(
        "return _helper(x) * 2", "return (\n        _helper(x)\n        * 2\n    )"
    )
    assert _fingerprint_of(tmp_path, monkeypatch, "relaid", relaid) == base
    helper = BASE.replace("return x + LIMIT", "return x - LIMIT")
    assert _fingerprint_of(tmp_path, monkeypatch, "helper", helper) != base
    constant = BASE.replace("LIMIT = 5", "LIMIT = 6")
    assert _fingerprint_of(tmp_path, monkeypatch, "constant", constant) != base
