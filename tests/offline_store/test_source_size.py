"""Which views the store sorts whole: sources of local files under the size limit, nothing else."""

import pandas as pd

from trip_features.offline_store import source_size


def test_only_local_files_under_the_limit_count_as_small(spark, tmp_path, monkeypatch):
    frame = pd.DataFrame({"driver_id": range(1000), "value": [0.5] * 1000})
    frame.to_parquet(tmp_path / "part-0.parquet")
    frame.to_parquet(tmp_path / "part-1.parquet")
    files = spark.read.parquet(str(tmp_path))
    assert source_size.known_small(files)
    size = sum(p.stat().st_size for p in tmp_path.glob("*.parquet"))
    monkeypatch.setattr(source_size, "SMALL_SOURCE_BYTES", size)
    assert not source_size.known_small(files)  # the limit is exclusive: together they reach it
    monkeypatch.setattr(source_size, "SMALL_SOURCE_BYTES", size + 1)
    assert source_size.known_small(files)
    assert not source_size.known_small(spark.range(10))  # no files: size unknown
    assert source_size.known_small(spark.range(10), in_memory_counts=True)  # the caller bounds it
