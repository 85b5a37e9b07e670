"""The feature catalogue: declarations checked with clear errors, and everything derived from it."""

import datetime as dt
from pathlib import Path

import pytest

from jobs.catalogue import readme_with_catalogue
from transforms.feature_catalogue import Catalogue, CatalogueError
from trip_features.quality.checks import table_checks
from trip_features.runtime.config import ConfigError, apply_override, load_config

PROJECT = Path(__file__).resolve().parents[2]
DRIVER = "features.tables.driver_activity.features"


def _with(*overrides: str) -> Catalogue:
    conf = load_config("local")
    for override in overrides:
        conf = apply_override(conf, override)
    return Catalogue.from_conf(conf.features)


def test_the_shipped_catalogue():
    catalogue = _with()
    assert catalogue.accuracy == {"driver_activity": "temporal", "trips_stats_3h": "snapshot"}
    assert catalogue.carried("driver_activity") == ["trip_dist"]  # what its windows aggregate
    assert catalogue.carried("trips_stats_3h") == []
    assert catalogue.columns("driver_activity")[4:] == [
        "trip_dist",
        "trips_1h",
        "trips_24h",
        "trips_7d",
        "mean_dist_24h",
        "max_dist_24h",
    ]
    config = catalogue.hamilton_config()
    assert config["driver_windows"]["trips_7d"] == ("count", "7d")
    assert config["percentile_windows"] == {"percentile_dist_rolling_3h": "3h"}
    assert catalogue.history().total_seconds() == 7 * 86400
    assert {f.dtype for f in catalogue.features("trips_stats_3h")} == {"int", "double"}


def test_accuracy_is_declared_per_table_and_temporal_only_where_it_can_be():
    assert (
        _with("features.tables.driver_activity.accuracy=snapshot").carried("driver_activity") == []
    )
    with pytest.raises(CatalogueError, match="only tables of driver windows can be computed"):
        _with("features.tables.trips_stats_3h.accuracy=temporal")


@pytest.mark.parametrize(
    "override, message",
    [
        (f"{DRIVER}.trips_1h.window=2h", "feature trips_1h says 1h but its window is"),
        (f"{DRIVER}.trips_30m={{kind: driver_window, aggregation: count, window: 1h}}", "says 30m"),
        (f"{DRIVER}.x={{kind: driver_window, aggregation: median, window: 1h}}", "median"),
        (
            f"{DRIVER}.x={{kind: driver_window, aggregation: count, window: 1h, of: trip_dist}}",
            "a count counts trips",
        ),
        (
            f"{DRIVER}.x={{kind: driver_window, aggregation: max, window: 1h, of: rider_id}}",
            "windows aggregate one of",
        ),
        (f"{DRIVER}.x={{kind: driver_window, aggregation: max, window: soon}}", "not a duration"),
        (f"{DRIVER}.x={{kind: calendar}}", "cannot go in driver_activity"),
        (
            f"{DRIVER}.day_of_week={{kind: driver_window, aggregation: max, window: 1h}}",
            "declared twice",
        ),
        ("features.tables.trips_stats_3h.features.percentile_dist_rolling_3h.window=2h", "says 3h"),
        ("features.tables.other={features: {}}", "unknown table"),
        ("features.percentile_bucket=7h", "must divide a day"),
    ],
)
def test_declarations_that_cannot_be_computed_are_refused(override, message):
    with pytest.raises(CatalogueError, match=message):
        _with(override)


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "features.tables.driver_activity.accuracy=exact",
            "accuracy is 'exact': Input should be 'temporal' or 'snapshot'",
        ),
        (
            "features.tables.driver_activity.tll=1d",
            "driver_activity.tll is not a setting; known here: description, accuracy, ttl",
        ),
        (
            f"{DRIVER}.x={{kind: driver_window, aggregation: max, window: 1h, colour: red}}",
            "x.colour is not a setting; known here: kind, aggregation, window",
        ),
        (
            f"{DRIVER}.x={{kind: driver_window, aggregation: max, window: 1h, checks: {{big: 1}}}}",
            "checks.big is not a setting; known here: minimum, maximum",
        ),
        (
            "features.tables.trips_stats_3h.ttl=a while",
            "trips_stats_3h.ttl is 'a while': 'a while' is not a duration like '30min'",
        ),
        (f"{DRIVER}.trips_1h.checks.importance=loud", "Input should be 'fail' or 'warn'"),
    ],
)
def test_a_declaration_of_the_wrong_form_is_refused_when_conf_loads(override, message):
    with pytest.raises(ConfigError, match=message):
        _with(override)


def test_checks_come_from_the_declarations():
    catalogue = _with(
        f"{DRIVER}.trips_30m={{kind: driver_window, aggregation: count, window: 30min, checks: {{minimum: 1}}}}"
    )
    checks = {c.column: c for c in table_checks(catalogue, "driver_activity")}
    assert checks["trips_30m"].dtype == "bigint" and checks["trips_30m"].minimum == 1
    assert checks["trip_id"].dtype == "bigint"
    assert checks["mean_dist_24h"].importance == "warn"
    stats = {c.column: c for c in table_checks(catalogue, "trips_stats_3h")}
    assert stats["is_weekend"].allowed == (0, 1)


def test_the_readme_feature_table_is_current():
    readme = (PROJECT / "README.md").read_text()
    assert readme == readme_with_catalogue(readme, _with()), (
        "README.md's feature table is stale: run python -m jobs.catalogue --write-readme README.md"
    )


def test_a_table_declares_its_ttl_and_owner(conf):
    from definitions.feast_dataflow import build_definitions

    declared = apply_override(conf, "features.tables.trips_stats_3h.ttl=36h")
    declared = apply_override(declared, "features.tables.trips_stats_3h.owner=rides@team")
    view = build_definitions(declared)["trips_stats_3h_view"]
    assert view.ttl == dt.timedelta(hours=36) and view.owner == "rides@team"
