"""What a location names, decided once (trip_features/runtime/locations.py): every reader of trips,
the run events and the configuration's path resolution agree."""

import pytest

from trip_features.runtime.config import resolve_path
from trip_features.runtime.locations import is_table_name, is_uri


@pytest.mark.parametrize(
    ("location", "table"),
    [
        ("trips", True),
        ("raw.trips", True),
        ("main.raw.trips", True),
        ("data/trips", False),
        ("/abs/trips", False),
        ("trips.parquet", False),
        ("s3://bucket/trips", False),
        ("C:\\trips", False),
        ("a.b.c.d", False),
    ],
)
def test_a_table_name_is_a_dotted_identifier_and_nothing_else(location, table):
    assert is_table_name(location) is table


def test_a_folder_that_exists_is_a_path_even_with_a_tables_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_table_name("trips")
    (tmp_path / "trips").mkdir()
    assert not is_table_name("trips")


def test_paths_resolve_against_the_workspace_tables_and_uris_stay(tmp_path):
    assert resolve_path("data/trips", tmp_path) == str(tmp_path / "data" / "trips")
    assert resolve_path("raw.trips", tmp_path, may_be_table=True) == "raw.trips"
    # where no table may be given (the features folder, the registry), a bare name is a folder
    assert resolve_path("features", tmp_path) == str(tmp_path / "features")
    assert resolve_path("registry.db", tmp_path) == str(tmp_path / "registry.db")
    assert resolve_path("s3://b/t", tmp_path) == "s3://b/t" and is_uri("s3://b/t")
    assert resolve_path("/abs/t", tmp_path) == "/abs/t"
