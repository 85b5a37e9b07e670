"""Code versions of the feature tables: what changes them, and how dates record them."""

from transforms.feature_tables import TABLES
from trip_features.feature_lineage.code_versions import (
    MIXED,
    UNKNOWN,
    record,
    table_code_versions,
    version_of_table,
    versions_of_dates,
)
from trip_features.runtime.config import apply_override, load_config


def test_a_declaration_changes_only_its_tables_version_and_quality_changes_both():
    conf = load_config("local")
    base = table_code_versions(conf)
    assert set(base) == set(TABLES)
    assert table_code_versions(conf) == base  # stable
    wider = apply_override(
        conf, "features.tables.driver_activity.features.max_dist_24h.aggregation=mean"
    )
    changed = table_code_versions(wider)
    assert changed["driver_activity"] != base["driver_activity"]
    assert changed["trips_stats_3h"] == base["trips_stats_3h"]
    stricter = table_code_versions(apply_override(conf, "quality.max_trip_km=200"))
    assert all(stricter[t] != base[t] for t in base)


def test_dates_record_their_version_and_a_table_has_one_when_they_agree(tmp_path):
    table = tmp_path / "driver_activity"
    for date in ("date=2026-01-05", "date=2026-01-06"):
        (table / date).mkdir(parents=True)
    assert record(table, "aaaaaaaaaaaa") == 2
    folders = sorted(table.iterdir())
    assert versions_of_dates(folders) == dict.fromkeys([f.name for f in folders], "aaaaaaaaaaaa")
    assert version_of_table(versions_of_dates(folders)) == "aaaaaaaaaaaa"
    (table / "date=2026-01-07").mkdir()  # published before versions were recorded
    assert version_of_table(versions_of_dates(sorted(table.iterdir()))) == UNKNOWN
    assert version_of_table({"date=1": "a", "date=2": "b"}) == MIXED
    assert version_of_table({}) == UNKNOWN
