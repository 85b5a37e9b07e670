"""The definitions DAG: every Feast object it makes is registered, none by a hand-kept list."""

import importlib

import pytest

from definitions.feast_dataflow import DEFINITION_MODULES, build_definitions
from tests.shipped_catalogue import CATALOGUE, WINDOWS
from transforms.feature_catalogue import CatalogueError
from trip_features.runtime.config import ConfigError, apply_override


def test_every_feast_object_of_the_dag_is_collected(conf):
    objects = build_definitions(conf)
    per_table = {f"{t}{suffix}" for t in CATALOGUE.tables for suffix in ("_source", "_view")}
    per_temporal_table = {
        f"{t}{suffix}"
        for t in CATALOGUE.temporal_tables()
        for suffix in ("_recent_trips_source", "_recent_trips_view", "_now_view")
    }
    shared = {"driver_entity", "trip_request_source", "request_calendar_view"}
    assert set(objects) == shared | per_table | per_temporal_table | set(CATALOGUE.services)
    windows = set(WINDOWS)
    assert {f.name for f in objects["driver_activity_view"].features} == windows  # per trip
    assert {f.name for f in objects["driver_activity_now_view"].features} == windows  # when asked
    served = {p.name for p in objects["driver_activity_v1"].feature_view_projections}
    assert served == {"driver_activity_now"}


def test_a_new_service_in_a_definitions_module_is_collected_without_listing_it(
    conf, tmp_path, monkeypatch
):
    (tmp_path / "extra_definitions.py").write_text(
        "from feast import FeatureService, FeatureView\n\n\n"
        "def late_trips_service(trips_stats_3h_view: FeatureView) -> FeatureService:\n"
        '    """A service added in a module of its own."""\n'
        '    return FeatureService(name="late_trips_v1", features=[trips_stats_3h_view])\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("extra_definitions")
    objects = build_definitions(conf, [*DEFINITION_MODULES, module])
    assert objects["late_trips_service"].name == "late_trips_v1"
    assert len(objects) == len(build_definitions(conf)) + 1


def test_every_object_and_field_says_what_it_is_and_who_owns_it(conf):
    """What the Feast UI shows people: descriptions (from the transforms and the catalogue) and
    owners, on every object and every field of the feature tables' views (a Python-mode
    on-demand view's fields cannot carry one: Feast infers them by running it)."""
    from feast import FeatureView

    for name, obj in build_definitions(conf).items():
        assert obj.description.strip(), f"{name} has no description"
        assert obj.owner == conf.feast.owner, f"{name} has no owner"
        if type(obj) is FeatureView:
            for field in obj.features:
                assert field.description.strip(), f"{name}.{field.name} has no description"


def test_a_service_is_one_declaration_served_through_the_views_of_its_tables(conf):
    """A temporal table is served at the moment asked (its `_now` view), a snapshot table through
    its own view, the calendar of the request when asked for; order as declared."""
    declared = apply_override(
        conf,
        "features.services.dispatch_v2={description: For dispatch., owner: dispatch@team, "
        "tables: [trips_stats_3h, driver_activity], request_calendar: true}",
    )
    service = build_definitions(declared)["dispatch_v2"]
    served = [p.name for p in service.feature_view_projections]
    assert served == ["trips_stats_3h", "driver_activity_now", "request_calendar"]
    assert (service.description, service.owner) == ("For dispatch.", "dispatch@team")
    as_snapshot = apply_override(declared, "features.tables.driver_activity.accuracy=snapshot")
    objects = build_definitions(as_snapshot)
    assert [p.name for p in objects["dispatch_v2"].feature_view_projections][1] == "driver_activity"
    assert not any(name.endswith("_now_view") for name in objects)  # no temporal table left


@pytest.mark.parametrize(
    "override, error, message",
    [
        (
            "features.services.x_v1={description: x, tables: [trips_1h_table]}",
            CatalogueError,
            r"features.services.x_v1.tables: \['trips_1h_table'\] not declared",
        ),
        (
            "features.services.trips_1h={description: x, tables: [driver_activity]}",
            CatalogueError,
            "named like a table or a feature",
        ),
        ("features.services.x_v1={description: x, tables: []}", ConfigError, "at least 1"),
        ("features.services.x_v1={tables: [driver_activity]}", ConfigError, "description is"),
    ],
)
def test_a_service_that_cannot_be_served_is_refused(conf, override, error, message):
    with pytest.raises(error, match=message):
        build_definitions(apply_override(conf, override))
