"""Atomic, idempotent publication: killed runs harm nothing, concurrent runs lose nothing."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from jobs import compute_features
from jobs.generate_trips import generate_trips, write_trips
from jobs.publishing import commit, current_version, remove_dead_staging

PROJECT = Path(__file__).resolve().parents[2]


def _fake_staged(out: Path, name: str, run: str, dates: list[str]) -> Path:
    staged = out / ".staging" / name / f"{run}-{os.getpid()}"
    for date in dates:
        (staged / f"date={date}").mkdir(parents=True)
        (staged / f"date={date}" / "part-00000.parquet").write_text(f"{run} {date}")
    return staged


def _commit_many(out: str, worker: int, rounds: int) -> None:
    for i in range(rounds):
        run = f"w{worker}r{i}"
        commit(out, "t", _fake_staged(Path(out), "t", run, [f"2026-0{worker}-{i + 10:02d}"]), run)


def test_concurrent_commits_keep_every_date(tmp_path):
    workers = [
        multiprocessing.Process(target=_commit_many, args=(str(tmp_path), w, 8)) for w in (1, 2, 3)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    dates = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert dates == sorted(f"date=2026-0{w}-{i + 10:02d}" for w in (1, 2, 3) for i in range(8))
    assert len(list((tmp_path / ".versions" / "t").iterdir())) <= 2  # old versions cleaned up


def test_a_commit_replaces_its_dates_and_links_the_rest(tmp_path):
    commit(tmp_path, "t", _fake_staged(tmp_path, "t", "a", ["2026-01-01", "2026-01-02"]), "a")
    first = current_version(tmp_path, "t")
    commit(tmp_path, "t", _fake_staged(tmp_path, "t", "b", ["2026-01-02"]), "b")
    table = tmp_path / "t"
    assert (table / "date=2026-01-01" / "part-00000.parquet").read_text() == "a 2026-01-01"
    assert (table / "date=2026-01-02" / "part-00000.parquet").read_text() == "b 2026-01-02"
    assert (table / "date=2026-01-01" / "part-00000.parquet").stat().st_ino == (
        first / "date=2026-01-01" / "part-00000.parquet"
    ).stat().st_ino


def test_staging_of_dead_runs_is_removed_and_of_live_runs_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / ".staging" / "t" / f"run-{dead.pid}"
    live = tmp_path / ".staging" / "t" / f"run-{os.getpid()}"
    gone.mkdir(parents=True)
    live.mkdir(parents=True)
    assert remove_dead_staging(tmp_path, "t") == [gone]
    assert live.exists() and not gone.exists()


@pytest.fixture(scope="module")
def trips(tmp_path_factory):
    path = tmp_path_factory.mktemp("trips") / "trips"
    write_trips(generate_trips(rows=60_000, days=6, seed=4, drivers=100), path)
    return str(path)


def _job(trips: str, out: Path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobs.compute_features",
            "--trips",
            trips,
            "--out",
            str(out),
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
            *extra,
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read(out: Path, table: str) -> pd.DataFrame:
    frame = pd.read_parquet(out / table)
    frame["date"] = frame["date"].astype(str)
    return frame.sort_values("trip_id", ignore_index=True)


def test_killed_job_leaves_the_previous_version_whole(spark, conf, trips, tmp_path):
    compute_features.run(spark, conf, trips=trips, out=str(tmp_path))
    before = {t: _read(tmp_path, t) for t in ("trips_stats_3h", "driver_activity")}
    job = _job(trips, tmp_path)
    staging = tmp_path / ".staging"
    deadline = time.monotonic() + 240
    while not any(staging.rglob("*.parquet")):  # killed in the middle of writing
        assert job.poll() is None, job.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the job never started writing"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait(60)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_read(tmp_path, table), frame)
    assert any(staging.rglob("*")), "the dead run left its staging behind"
    compute_features.run(spark, conf, trips=trips, out=str(tmp_path))  # the next run repairs
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_read(tmp_path, table), frame)
    assert not any(p.is_file() for p in staging.rglob("*"))


def test_two_jobs_on_different_dates_at_once(spark, conf, trips, tmp_path):
    full = tmp_path / "full"
    compute_features.run(spark, conf, trips=trips, out=str(full))
    shared = tmp_path / "shared"
    jobs = [
        _job(trips, shared, "--start", "2026-01-05", "--end", "2026-01-07"),
        _job(trips, shared, "--start", "2026-01-08", "--end", "2026-01-10"),
    ]
    for job in jobs:
        assert job.wait(600) == 0, job.stderr.read()[-3000:]
    for table in ("trips_stats_3h", "driver_activity"):
        pd.testing.assert_frame_equal(_read(shared, table), _read(full, table))
