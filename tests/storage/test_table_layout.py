"""The written layout: one file per date, rows in (event_timestamp, trip_id) order, and no
dictionary for the columns whose values are nearly all distinct."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from trip_features.storage.table_layout import PART_FILE, write_by_date


def _trips(rows=2000, seed=4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "trip_id": rng.permutation(rows).astype(np.int64),
            "driver_id": rng.integers(1000, 1010, rows).astype(np.int64),
            # seconds only: many trips share a time, so the trip id decides their order
            "event_timestamp": pd.Timestamp("2026-03-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3 * 86_400 // 60, rows) * 60, unit="s"),
            "trips_1h": rng.integers(1, 4, rows).astype(np.int64),
            "mean_dist_24h": rng.random(rows),
        }
    )


def _dictionary_encoded(part) -> dict[str, bool]:
    meta = pq.ParquetFile(part).metadata
    group = meta.row_group(0)
    return {
        group.column(i).path_in_schema: any("DICTIONARY" in e for e in group.column(i).encodings)
        for i in range(group.num_columns)
    }


def test_one_ordered_file_per_date_and_dictionaries_where_they_pay(spark, tmp_path):
    frame = _trips()
    folder = write_by_date(spark.createDataFrame(frame), tmp_path / "table")

    dates = sorted(p.name for p in folder.iterdir())
    assert dates == ["date=2026-03-01", "date=2026-03-02", "date=2026-03-03"]
    expected = frame.sort_values(["event_timestamp", "trip_id"], ignore_index=True)
    written = pd.concat([pd.read_parquet(folder / d / PART_FILE) for d in dates], ignore_index=True)
    assert all(list((folder / d).iterdir()) == [folder / d / PART_FILE] for d in dates)
    assert written["trip_id"].tolist() == expected["trip_id"].tolist()
    pd.testing.assert_series_equal(written["mean_dist_24h"], expected["mean_dist_24h"])

    encoded = _dictionary_encoded(folder / dates[0] / PART_FILE)
    assert encoded == {
        "trip_id": False,
        "driver_id": True,
        "event_timestamp": False,
        "trips_1h": True,
        "mean_dist_24h": False,
    }
