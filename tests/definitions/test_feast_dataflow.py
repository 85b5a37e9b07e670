"""The definitions DAG: every Feast object it makes is registered, none by a hand-kept list."""

import importlib

from definitions.feast_dataflow import DEFINITION_MODULES, build_definitions
from tests.shipped_catalogue import WINDOWS


def test_every_feast_object_of_the_dag_is_collected(conf):
    objects = build_definitions(conf)
    assert set(objects) == {
        "driver_entity",
        "trips_stats_3h_source",
        "driver_activity_source",
        "trip_request_source",
        "trips_stats_3h_view",
        "driver_activity_view",
        "request_calendar_view",
        "driver_recent_trips_source",
        "driver_recent_trips_view",
        "driver_activity_now_view",
        "driver_activity_v1",
        "driver_trips_v1",
    }
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
