"""The feature job: date ranges with history, partition overwrite, identical reruns, errors."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from jobs import compute_features
from transforms.feature_tables import TABLES
from trip_features.runtime.errors import JobError
from trip_features.storage.sample_trips import generate_trips, write_trips

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trips_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("trips") / "trips"
    write_trips(generate_trips(rows=10_000, days=10, seed=21, drivers=40), path)
    return str(path)


@pytest.fixture(scope="module")
def full_run(spark, conf, trips_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    report = compute_features.run(spark, conf, trips=trips_path, out=str(out))
    return out, report


def _read(path: Path, table: str) -> pd.DataFrame:
    frame = pd.read_parquet(path / table)
    frame["date"] = frame["date"].astype(str)
    return frame.sort_values("trip_id", ignore_index=True)


def test_full_run_counts_every_trip_once(full_run):
    out, report = full_run
    assert report.trips_read == report.trips_in_range == report.trips_accepted == 10_000
    assert report.rows_written == {
        "quarantine": 0,
        "trips_stats_3h": 10_000,
        "driver_activity": 10_000,
    }
    for table in TABLES:
        frame = _read(out, table)
        assert len(frame) == 10_000 and frame["trip_id"].is_unique
        assert (frame["date"] == frame["event_timestamp"].dt.strftime("%Y-%m-%d")).all()


def test_trips_landing_during_a_run_wait_for_the_next(spark, conf, tmp_path, monkeypatch):
    """Every table of a run comes from the trips listed as it starts: a day's files landing in
    the trips folder once the first table is written (a loader appending while the job runs) are
    not read by the next table, which still holds one row per trip of the first; the next run
    reads them."""
    from trip_features.feature_runs import table_families

    trips, landing = tmp_path / "trips", tmp_path / "landing"
    first = generate_trips(rows=2_000, days=3, seed=8, drivers=20)
    write_trips(first, trips)
    later = generate_trips(rows=500, days=1, seed=9, drivers=20, start="2026-01-08")
    later["trip_id"] += len(first)  # trip ids of their own
    write_trips(later, landing)

    def land_a_day(point: str) -> None:
        if point == f"staged:{TABLES[0]}":
            (landing / "date=2026-01-08").rename(trips / "date=2026-01-08")

    monkeypatch.setattr(table_families, "checkpoint", land_a_day)
    report = compute_features.run(spark, conf, trips=str(trips), out=str(tmp_path / "out"))
    assert (trips / "date=2026-01-08").exists()  # landed mid-run
    assert report.status == "published"
    assert report.trips_read == len(first)
    assert {report.rows_written[t] for t in TABLES} == {report.trips_accepted}
    for table in TABLES:
        assert len(_read(tmp_path / "out", table)) == report.trips_accepted, table
    monkeypatch.undo()
    again = compute_features.run(spark, conf, trips=str(trips), out=str(tmp_path / "out"))
    assert again.trips_read == len(first) + len(later)


def test_written_timestamps_are_microseconds(full_run):
    out, _ = full_run
    one_file = next((out / "driver_activity").rglob("*.parquet"))
    schema = pq.read_schema(one_file)
    assert str(schema.field("event_timestamp").type) == "timestamp[us, tz=UTC]"


def test_a_range_reads_history_equals_the_full_run_and_leaves_the_callers_settings(
    spark, conf, trips_path, full_run, tmp_path
):
    """A date range's rows are the full run's rows of those dates (history before it read), run
    from a caller's session whose settings the job neither uses nor changes: another time zone,
    INT96 timestamps, no partial aggregation bypass. The job runs in a session of its own."""
    out, _ = full_run
    callers = {
        "spark.sql.parquet.outputTimestampType": "INT96",
        "spark.sql.execution.bypassPartialAggregation": "false",
        "spark.sql.session.timeZone": "America/New_York",
    }
    before = {key: spark.conf.get(key, None) for key in callers}
    try:
        for key, value in callers.items():
            spark.conf.set(key, value)
        report = compute_features.run(
            spark, conf, trips=trips_path, out=str(tmp_path), start="2026-01-12", end="2026-01-13"
        )
        assert {key: spark.conf.get(key) for key in callers} == callers
    finally:
        for key, value in before.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    assert report.trips_read > report.trips_in_range  # 7 days of history were read
    for table in TABLES:
        one_file = next((tmp_path / table).rglob("*.parquet"))
        written = pq.read_schema(one_file).field("event_timestamp").type
        assert str(written) == "timestamp[us, tz=UTC]", table
        part = _read(tmp_path, table)
        assert sorted(part["date"].unique()) == ["2026-01-12", "2026-01-13"]
        full = _read(out, table)
        full = full[full["date"].isin(["2026-01-12", "2026-01-13"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, full)


@pytest.mark.slow
def test_rerun_of_a_range_replaces_only_its_dates(spark, conf, trips_path, tmp_path):
    compute_features.run(spark, conf, trips=trips_path, out=str(tmp_path))
    table_dir = tmp_path / "trips_stats_3h"
    before = {p.relative_to(table_dir): p.stat().st_ino for p in table_dir.rglob("*.parquet")}
    frame_before = _read(tmp_path, "trips_stats_3h")
    compute_features.run(
        spark, conf, trips=trips_path, out=str(tmp_path), start="2026-01-09", end="2026-01-09"
    )
    after = {p.relative_to(table_dir): p.stat().st_ino for p in table_dir.rglob("*.parquet")}
    assert set(after) == set(before)
    recomputed = {p for p in before if "date=2026-01-09" in str(p)}
    assert len(recomputed) == 1
    assert all(after[p] == before[p] for p in before if p not in recomputed)  # same files, linked
    assert all(after[p] != before[p] for p in recomputed)  # a new file for the recomputed date
    pd.testing.assert_frame_equal(_read(tmp_path, "trips_stats_3h"), frame_before)


@pytest.mark.slow
def test_rerun_gives_identical_rows_and_file_contents(spark, conf, trips_path, full_run, tmp_path):
    out, _ = full_run
    compute_features.run(spark, conf, trips=trips_path, out=str(tmp_path))
    for table in TABLES:
        pd.testing.assert_frame_equal(_read(tmp_path, table), _read(out, table))
        first = {
            p.relative_to(out / table): p.read_bytes() for p in (out / table).rglob("*.parquet")
        }
        second = {
            p.relative_to(tmp_path / table): p.read_bytes()
            for p in (tmp_path / table).rglob("*.parquet")
        }
        assert len(first) == 10 and first == second  # byte-identical, file for file


def test_empty_or_inverted_range_is_a_clear_error(spark, conf, trips_path, tmp_path):
    with pytest.raises(JobError, match="no usable trips .* between 2030-01-01"):
        compute_features.run(
            spark, conf, trips=trips_path, out=str(tmp_path), start="2030-01-01", end="2030-01-02"
        )
    with pytest.raises(JobError, match="is after --end"):
        compute_features.run(
            spark, conf, trips=trips_path, out=str(tmp_path), start="2026-01-09", end="2026-01-08"
        )
    with pytest.raises(JobError, match="not a date like"):
        compute_features.run(spark, conf, trips=trips_path, out=str(tmp_path), start="9 Jan")


def test_missing_input_exits_non_zero_with_a_message(spark, tmp_path, capsys):
    code = compute_features.main(
        ["--trips", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "cannot read trips" in capsys.readouterr().err


@pytest.mark.slow
def test_runs_under_spark_submit_and_writes_what_another_process_writes(
    spark, conf, trips_path, tmp_path
):
    spark_submit = Path(sys.executable).with_name("spark-submit")
    result = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[2]",
            str(PROJECT / "jobs" / "compute_features.py"),
            "--trips",
            trips_path,
            "--out",
            str(tmp_path),
            "--start",
            "2026-01-14",
            "--end",
            "2026-01-14",
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={
            # not the variables this test run's own Spark gateway left behind
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYSPARK_PYTHON": sys.executable,
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rows of driver_activity" in result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "driver_activity").glob("date=*")] == ["date=2026-01-14"]
    # Another process (this one) writes the same files: names, rows and row order.
    here = tmp_path / "here"
    compute_features.run(
        spark, conf, trips=trips_path, out=str(here), start="2026-01-14", end="2026-01-14"
    )
    for table in (*TABLES, "quarantine"):
        theirs = sorted(p.relative_to(tmp_path / table) for p in (tmp_path / table).rglob("*"))
        ours = sorted(p.relative_to(here / table) for p in (here / table).rglob("*"))
        assert theirs == ours, table
        for name in (n for n in ours if n.suffix == ".parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(tmp_path / table / name), pd.read_parquet(here / table / name)
            )


@pytest.mark.slow
def test_a_rerun_empties_dates_of_its_range_that_lost_their_rows(spark, conf, trips_path, tmp_path):
    """A date whose trips are all quarantined now must not keep the rows an earlier run wrote."""
    out = tmp_path / "out"
    compute_features.run(spark, conf, trips=trips_path, out=str(out))
    trips = pd.read_parquet(trips_path)
    day = trips["event_timestamp"].dt.strftime("%Y-%m-%d") == "2026-01-09"
    trips.loc[day, "trip_dist"] = -1.0  # every trip of the day breaks negative_distance
    broken = tmp_path / "broken"
    write_trips(trips.drop(columns="date").sort_values(["event_timestamp", "trip_id"]), broken)
    report = compute_features.run(
        spark, conf, trips=str(broken), out=str(out), start="2026-01-08", end="2026-01-09"
    )
    assert report.trips_quarantined == day.sum() > 0
    for table in TABLES:
        dates = set(_read(out, table)["date"])
        assert "2026-01-09" not in dates and {"2026-01-08", "2026-01-10"} <= dates
    quarantined = pd.read_parquet(out / "quarantine")
    assert len(quarantined) == day.sum()
    assert set(quarantined["date"].astype(str)) == {"2026-01-09"}


@pytest.mark.slow
def test_a_whole_run_replaces_the_whole_table(spark, conf, trips_path, tmp_path):
    out = tmp_path / "out"
    compute_features.run(spark, conf, trips=trips_path, out=str(out))
    trips = pd.read_parquet(trips_path)
    fewer = trips[trips["event_timestamp"] < pd.Timestamp("2026-01-08", tz="UTC")]
    write_trips(fewer.drop(columns="date"), tmp_path / "fewer")
    compute_features.run(spark, conf, trips=str(tmp_path / "fewer"), out=str(out))
    frame = _read(out, "trips_stats_3h")
    assert len(frame) == len(fewer)
    assert frame["date"].max() == "2026-01-07"
