"""The feature job publishes every table of a run (quarantine included) or none of them, writes
its quality report either way, and loses nothing when killed or run twice at once."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from jobs import compute_features
from transforms.feature_tables import TABLES as FEATURE_TABLES
from trip_features.feature_runs.table_families import TableFamilies
from trip_features.runtime.config import apply_override
from trip_features.runtime.errors import JobError

PROJECT = Path(__file__).resolve().parents[2]
PUBLISHED = (*FEATURE_TABLES, "quarantine")


def _read(out: Path, table: str) -> pd.DataFrame:
    frame = pd.read_parquet(out / table)
    frame["date"] = frame["date"].astype(str)
    return frame.sort_values(["trip_id", "date"], ignore_index=True)


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {t: _read(out, t) for t in PUBLISHED}


def _assert_unchanged(out: Path, before: dict[str, pd.DataFrame]) -> None:
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_read(out, table), frame, obj=table)


@pytest.fixture
def published(spark, conf, trips, tmp_path):
    compute_features.run(spark, conf, trips=trips["old"], out=str(tmp_path))
    before = _tables(tmp_path)
    assert len(before["quarantine"]) > 0
    return tmp_path, before


def _last_report(out: Path) -> dict:
    return json.loads((out / "_reports" / "latest.json").read_text())


def test_a_failing_check_of_the_second_table_publishes_nothing(spark, conf, trips, published):
    out, before = published
    strict = apply_override(
        conf, "features.tables.driver_activity.features.trips_7d.checks.maximum=1"
    )
    with pytest.raises(JobError, match="driver_activity failed its checks.*trips_7d: maximum"):
        compute_features.run(spark, strict, trips=trips["new"], out=str(out))
    _assert_unchanged(out, before)
    report = _last_report(out)
    assert report["status"] == "failed" and "driver_activity failed its checks" in report["error"]
    assert report["tables"]["trips_stats_3h"]["rows"] == report["trips_accepted"]


@pytest.mark.slow
def test_a_row_count_mismatch_in_the_second_table_publishes_nothing(
    spark, conf, trips, published, monkeypatch
):
    out, before = published
    compute = TableFamilies._compute

    def one_row_too_many(self, node):
        frame = compute(self, node)
        return frame.unionByName(frame.limit(1)) if node == "driver_activity" else frame

    monkeypatch.setattr(TableFamilies, "_compute", one_row_too_many)
    with pytest.raises(JobError, match="driver_activity: (\\d+) rows written for"):
        compute_features.run(spark, conf, trips=trips["new"], out=str(out))
    _assert_unchanged(out, before)
    assert _last_report(out)["status"] == "failed"


def _job(trips: str, out: Path, *extra: str, kill_at: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    if kill_at:
        env["TRIP_FEATURES_KILL_AT"] = kill_at
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.compute_features", "--trips", trips, "--out", str(out)]
        + ["--set", "spark.conf.spark.sql.shuffle.partitions=2", *extra],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", ["staged:trips_stats_3h", "publish:assembled"])
def test_a_job_killed_between_tables_or_before_the_swap_changes_nothing(
    spark, conf, trips, published, point
):
    out, before = published
    job = _job(trips["new"], out, kill_at=point)
    _, said = job.communicate(timeout=300)  # read while it runs: a full pipe would stall it
    assert job.returncode == -9, said[-3000:]
    _assert_unchanged(out, before)
    assert any((out / ".staging").iterdir()) or (out / ".versions").exists()
    compute_features.run(spark, conf, trips=trips["old"], out=str(out))  # the next run repairs
    _assert_unchanged(out, before)
    assert not any(p.is_file() for p in (out / ".staging").rglob("*"))
    assert len(list((out / ".versions").iterdir())) <= 2


@pytest.mark.slow
def test_two_jobs_on_different_dates_at_once(spark, conf, trips, tmp_path):
    shared = tmp_path / "shared"
    jobs = [
        _job(trips["old"], shared, "--start", "2026-01-05", "--end", "2026-01-07"),
        _job(trips["old"], shared, "--start", "2026-01-08", "--end", "2026-01-10"),
    ]
    with ThreadPoolExecutor() as pool:  # their output read while they run: a full pipe stalls
        ends = [pool.submit(job.communicate, timeout=600) for job in jobs]
        full = tmp_path / "full"  # the reference, meanwhile
        compute_features.run(spark, conf, trips=trips["old"], out=str(full))
        for job, end in zip(jobs, ends, strict=True):
            said = end.result()[1]
            assert job.returncode == 0, said[-3000:]
    for table in PUBLISHED:
        pd.testing.assert_frame_equal(_read(shared, table), _read(full, table), obj=table)


@pytest.mark.slow
@pytest.mark.parametrize("inflated", ["accepted", "quarantined"])
def test_counts_inflated_by_retried_tasks_are_recounted_not_published_wrong(
    spark, conf, trips, tmp_path, monkeypatch, caplog, inflated
):
    """Observed counts are accumulators: a task Spark re-runs (an executor lost) counts twice.
    The job then counts the input directly and publishes with the exact numbers."""
    observed = TableFamilies._input_counts

    def as_if_tasks_ran_twice(self, observation):
        metrics = dict(observed(self, observation))
        metrics["read"] += 5
        metrics["in_range"] += 5
        metrics["accepted" if inflated == "accepted" else "negative_distance"] += 5
        return metrics

    monkeypatch.setattr(TableFamilies, "_input_counts", as_if_tasks_ran_twice)
    caplog.set_level("WARNING")
    report = compute_features.run(spark, conf, trips=trips["old"], out=str(tmp_path))
    quarantined = pd.read_parquet(tmp_path / "quarantine")
    assert report.status == "published"
    assert (report.trips_read, report.trips_accepted) == (8_000, 8_000 - len(quarantined))
    assert report.quarantine_reasons == {"negative_distance": len(quarantined)}
    assert "counting the input directly" in caplog.text
