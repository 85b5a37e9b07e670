"""The synthetic trips: deterministic to the byte, with the contract's schema and real ties."""

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from trip_features.storage.sample_trips import TRIPS_SCHEMA, generate_trips, write_trips


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        write_trips(generate_trips(rows=20_000, days=3, seed=seed), tmp_path / name)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_schema_partitions_and_shape(tmp_path):
    trips = generate_trips(rows=50_000, days=7, seed=3, drivers=1000)
    assert write_trips(trips, tmp_path / "t") == 50_000
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [
        f"date=2026-01-{d:02d}" for d in range(5, 12)
    ]
    table = ds.dataset(tmp_path / "t", format="parquet", partitioning="hive").to_table()
    for field in TRIPS_SCHEMA:
        assert table.schema.field(field.name).type == field.type  # microseconds, UTC
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert trips["trip_id"].is_unique
    assert trips.duplicated(["event_timestamp"]).sum() > 1000  # global ties
    assert trips.duplicated(["driver_id", "event_timestamp"]).sum() > 100  # per-driver ties
    assert trips["driver_id"].nunique() > 900
    assert (trips["created"] > trips["event_timestamp"]).all()
    by_hour = trips["event_timestamp"].dt.hour.value_counts()
    assert by_hour[18] > 3 * by_hour[4]  # evening rush, quiet night


def test_refuses_to_overwrite_without_permission(tmp_path):
    write_trips(generate_trips(rows=10, days=1, seed=1), tmp_path / "t")
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_trips(generate_trips(rows=10, days=1, seed=1), tmp_path / "t")
    write_trips(generate_trips(rows=20, days=1, seed=1), tmp_path / "t", overwrite=True)
    assert ds.dataset(tmp_path / "t", format="parquet").count_rows() == 20
