"""The catalog publication: each run's tables become versioned metastore tables behind views,
swapped in one statement each; the tables read through the views equal the files publication's,
after a first run, a re-run of a date range, a killed run and two runs at once."""

import itertools
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from jobs import compute_features
from trip_features.feature_lineage import code_versions
from trip_features.runtime.config import apply_override
from trip_features.runtime.errors import JobError
from trip_features.storage.catalog_publication import CatalogPublisher

pytestmark = [pytest.mark.slow, pytest.mark.metastore]  # slow: starts processes or servers

PROJECT = Path(__file__).resolve().parents[2]
TABLES = ("trips_stats_3h", "driver_activity", "quarantine")
_schemas = itertools.count()


def catalog_conf(conf, schema: str, retention: str = "7d") -> dict:
    for override in (
        "publication.kind=catalog",
        f"publication.schema={schema}",
        f"publication.retention={retention}",
    ):
        conf = apply_override(conf, override)
    return conf


@pytest.fixture
def schema():
    return f"features_{next(_schemas)}_{os.getpid()}"


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["date"] = frame["date"].astype(str)
    return frame.sort_values(["trip_id", "date"], ignore_index=True)


def _view(spark, schema: str, table: str) -> pd.DataFrame:
    return _sorted(spark.table(f"{schema}.{table}").toPandas())


def _files(out: Path, table: str) -> pd.DataFrame:
    return _sorted(pd.read_parquet(out / table))


def _assert_same(spark, schema: str, out: Path) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(
            _view(spark, schema, table), _files(out, table), obj=table, check_dtype=False
        )


def test_published_views_equal_the_files_publication(spark, conf, trips, tmp_path, schema):
    files = tmp_path / "files"
    compute_features.run(spark, conf, trips=trips["old"], out=str(files))
    report = compute_features.run(
        spark, catalog_conf(conf, schema), trips=trips["old"], out=str(tmp_path / "catalog")
    )
    assert report.status == "published"
    _assert_same(spark, schema, files)
    # Both publications record, with every date, the code version the run computed with.
    for kind, out in (("files", files), ("catalog", tmp_path / "catalog")):
        run_conf = catalog_conf(conf, schema) if kind == "catalog" else conf
        published = code_versions.published_versions(spark, run_conf, str(out))
        assert published == code_versions.table_code_versions(conf) == report.code_versions
    # A reader's query on the view prunes dates like a query on the folders.
    plan = (
        spark.sql(f"SELECT * FROM {schema}.driver_activity WHERE date = '2026-01-06'")
        ._jdf.queryExecution()
        .executedPlan()
        .toString()
    )
    assert "PartitionFilters: [isnotnull(date" in plan and "2026-01-06" in plan


def test_a_date_range_rerun_replaces_those_dates_and_keeps_the_others(
    spark, conf, trips, tmp_path, schema
):
    cat, files = tmp_path / "catalog", tmp_path / "files"
    catalog = catalog_conf(conf, schema)
    for run_conf, out in ((catalog, cat), (conf, files)):
        compute_features.run(spark, run_conf, trips=trips["old"], out=str(out))
        compute_features.run(
            spark, run_conf, trips=trips["new"], out=str(out), start="2026-01-07", end="2026-01-08"
        )
    _assert_same(spark, schema, files)
    dates = set(
        spark.table(f"{schema}.driver_activity").select("date").toPandas()["date"].astype(str)
    )
    assert {"2026-01-05", "2026-01-07", "2026-01-10"} <= dates
    # The kept dates are read where the first run wrote them: nothing was copied.
    versions = [p for p in (cat / ".versions").iterdir() if p.is_dir()]
    assert len(versions) == 2
    old = _files(files, "driver_activity")
    assert len(old) == len(_view(spark, schema, "driver_activity"))


@pytest.mark.slow
def test_old_versions_go_after_the_retention_and_never_what_a_version_reads(
    spark, conf, trips, tmp_path, schema
):
    out = tmp_path / "catalog"
    keep = catalog_conf(conf, schema, retention="7d")
    compute_features.run(spark, keep, trips=trips["old"], out=str(out))
    first = _view(spark, schema, "driver_activity")
    compute_features.run(spark, keep, trips=trips["new"], out=str(out), start="2026-01-09")
    tables = {r.tableName for r in spark.sql(f"SHOW TABLES IN {schema}").collect()}
    assert len([t for t in tables if t.startswith("driver_activity__")]) == 2
    expected = _view(spark, schema, "driver_activity")

    drop = catalog_conf(conf, schema, retention="0s")
    compute_features.run(spark, drop, trips=trips["new"], out=str(out), start="2026-01-10")
    tables = {r.tableName for r in spark.sql(f"SHOW TABLES IN {schema}").collect()}
    assert len([t for t in tables if t.startswith("driver_activity__")]) == 1
    # The first run's folder stays: the current version still reads its dates before 2026-01-09.
    folders = [p for p in (out / ".versions").iterdir() if p.is_dir()]
    assert len(folders) == 3
    after = _view(spark, schema, "driver_activity")
    kept = expected[expected.date < "2026-01-10"]
    pd.testing.assert_frame_equal(
        after[after.date < "2026-01-10"].reset_index(drop=True),
        kept.reset_index(drop=True),
        check_dtype=False,
    )
    # A run over every date leaves older folders unreferenced: they go with their versions.
    compute_features.run(spark, drop, trips=trips["old"], out=str(out))
    assert len([p for p in (out / ".versions").iterdir() if p.is_dir()]) == 1
    pd.testing.assert_frame_equal(_view(spark, schema, "driver_activity"), first)


@pytest.mark.slow
def test_two_runs_at_once_keep_both_date_ranges(spark, conf, trips, tmp_path, schema):
    files = tmp_path / "files"
    compute_features.run(spark, conf, trips=trips["old"], out=str(files))
    catalog, out = catalog_conf(conf, schema), tmp_path / "catalog"
    failures = []

    def run(start, end):
        try:
            compute_features.run(
                spark, catalog, trips=trips["old"], out=str(out), start=start, end=end
            )
        except Exception as err:  # reported below, with the other thread's outcome
            failures.append(err)

    threads = [
        threading.Thread(target=run, args=("2026-01-05", "2026-01-07")),
        threading.Thread(target=run, args=("2026-01-08", "2026-01-10")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not failures, failures
    _assert_same(spark, schema, files)


def test_hive_makes_its_session_folder_in_the_metastore_not_in_the_system_temp(spark, conf):
    """Hive never removes it (SPARK-51571): in /tmp, its default, every job left one behind."""
    spark.sql("SHOW DATABASES").collect()
    assert (Path(conf.paths.metastore) / "hive_resources").is_dir()


def test_a_session_without_a_metastore_is_told_what_to_use(conf, tmp_path, monkeypatch):
    class InMemory:
        class conf:  # noqa: N801 - mimics SparkSession.conf
            @staticmethod
            def get(key, default=None):
                return "in-memory"

    publisher = CatalogPublisher(InMemory(), str(tmp_path), "features", pd.Timedelta("1d"))
    with pytest.raises(JobError, match="catalog is in memory.*paths.metastore"):
        publisher.publish({}, "run")


def test_a_bad_schema_name_is_refused(tmp_path):
    with pytest.raises(JobError, match="publication.schema"):
        CatalogPublisher(None, str(tmp_path), "bad name; DROP", pd.Timedelta("1d"))


# Feature job runs, one after the other, in one process: each a command line, optionally killed
# at a point (the process then ends there) or followed by writing what its metastore's views
# read (Derby opens in one process at a time: no other process could look).
_JOB = f"""
import json, os, sys
from pyspark.sql import SparkSession
from jobs import compute_features
for run in json.loads(sys.argv[1]):
    if run["kill_at"]:
        os.environ["TRIP_FEATURES_KILL_AT"] = run["kill_at"]
    code = compute_features.main(run["argv"])
    if code:
        sys.exit(code)
    if run["export_to"]:
        spark = SparkSession.getActiveSession()
        for table in {TABLES!r}:
            spark.table("trip_features." + table).write.parquet(run["export_to"] + "/" + table)
"""


def _run(
    out: Path,
    metastore: Path,
    trips: str,
    *extra: str,
    kill_at: str | None = None,
    export_to: Path | None = None,
) -> dict:
    """One run of the feature job, on a metastore of its own."""
    argv = [
        *("--trips", trips, "--out", str(out)),
        *("--set", "spark.conf.spark.sql.shuffle.partitions=2"),
        *("--set", "publication.kind=catalog", "--set", f"paths.metastore={metastore}"),
        *extra,
    ]
    return {"argv": argv, "kill_at": kill_at, "export_to": export_to and str(export_to)}


def _process(*runs: dict) -> subprocess.CompletedProcess:
    """Runs of the feature job in a process of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    return subprocess.run(
        [sys.executable, "-c", _JOB, json.dumps(runs)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_run_killed_between_view_swaps_is_completed_by_the_next(spark, conf, trips, tmp_path):
    out, metastore = tmp_path / "catalog", tmp_path / "metastore"
    # A first publication, then a run killed after its first view (driver_activity) points at
    # the new version, before the others: one process, as the kill ends it.
    killed = _process(
        _run(out, metastore, trips["old"]),
        _run(out, metastore, trips["new"], kill_at="publish:swapped:driver_activity"),
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert re.findall(r"^run \S+: (\w+)", killed.stderr, re.M) == ["published"], killed.stderr
    assert list((out / "_publications").glob("*.json")), "the unfinished swap left its plan"
    # The next run, in a process of its own, completes that swap first, then publishes its own
    # date; then it reads the views, as any reader of that metastore would.
    export = tmp_path / "export"
    dates = ("--start", "2026-01-05", "--end", "2026-01-05")
    rerun = _process(_run(out, metastore, trips["old"], *dates, export_to=export))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "completing the publication" in rerun.stderr
    # What the files publication gives for: old, then new (completed), then old on 2026-01-05.
    files = tmp_path / "files"
    compute_features.run(spark, conf, trips=trips["new"], out=str(files))
    compute_features.run(
        spark, conf, trips=trips["old"], out=str(files), start="2026-01-05", end="2026-01-05"
    )
    seen = {t: _sorted(pd.read_parquet(export / t)) for t in TABLES}
    for table in TABLES:
        pd.testing.assert_frame_equal(
            seen[table], _files(files, table), obj=table, check_dtype=False
        )
    assert not list((out / "_publications").glob("*.json"))


def test_a_folder_keeps_the_kind_of_publication_it_has(spark, conf, trips, tmp_path, schema):
    compute_features.run(spark, conf, trips=trips["old"], out=str(tmp_path / "files"))
    with pytest.raises(JobError, match="publication.kind=files: publish there with the same"):
        compute_features.run(
            spark, catalog_conf(conf, schema), trips=trips["old"], out=str(tmp_path / "files")
        )
    assert len(_files(tmp_path / "files", "driver_activity")) > 0


@pytest.mark.slow
def test_a_run_failing_between_view_swaps_keeps_its_folder_for_the_next(
    spark, conf, trips, tmp_path, schema, monkeypatch
):
    """A metastore error after the first view swap: the failed run's folder stays (a view already
    reads it) and the next publication completes the swap before its own."""
    out, catalog = tmp_path / "catalog", catalog_conf(conf, schema)
    compute_features.run(spark, catalog, trips=trips["old"], out=str(out))
    swap = CatalogPublisher._swap

    def first_view_then_lost(self, plan):
        first = dict([sorted(plan.items())[0]])
        swap(self, first)
        raise RuntimeError("the metastore went away")

    monkeypatch.setattr(CatalogPublisher, "_swap", first_view_then_lost)
    with pytest.raises(RuntimeError, match="metastore went away"):
        compute_features.run(spark, catalog, trips=trips["new"], out=str(out))
    monkeypatch.setattr(CatalogPublisher, "_swap", swap)
    assert len([p for p in (out / ".versions").iterdir() if p.is_dir()]) == 2
    compute_features.run(
        spark, catalog, trips=trips["old"], out=str(out), start="2026-01-05", end="2026-01-05"
    )
    files = tmp_path / "files"
    compute_features.run(spark, conf, trips=trips["new"], out=str(files))
    compute_features.run(
        spark, conf, trips=trips["old"], out=str(files), start="2026-01-05", end="2026-01-05"
    )
    _assert_same(spark, schema, files)


def test_a_run_stopped_before_its_swaps_changes_nothing_and_its_version_goes(
    spark, conf, trips, tmp_path, schema, monkeypatch
):
    """Stopped once its versions are registered, before any view moves (where a SIGKILL at
    `publish:assembled` stops a job): readers see the old tables, and the next publication drops
    the version that never became current, folder and all."""
    out, catalog = tmp_path / "catalog", catalog_conf(conf, schema)
    compute_features.run(spark, catalog, trips=trips["old"], out=str(out))
    before = {t: _view(spark, schema, t) for t in TABLES}

    def stop(point):
        if point == "publish:assembled":
            raise KeyboardInterrupt("stopped before the swaps")

    monkeypatch.setattr("trip_features.storage.catalog_publication.checkpoint", stop)
    with pytest.raises(KeyboardInterrupt):
        compute_features.run(spark, catalog, trips=trips["new"], out=str(out))
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_view(spark, schema, table), frame, obj=table)
    versions = {r.tableName for r in spark.sql(f"SHOW TABLES IN {schema}").collect()}
    assert len([t for t in versions if t.startswith("driver_activity__")]) == 2
    monkeypatch.undo()
    compute_features.run(
        spark, catalog, trips=trips["old"], out=str(out), start="2026-01-05", end="2026-01-05"
    )
    versions = {r.tableName for r in spark.sql(f"SHOW TABLES IN {schema}").collect()}
    assert len([t for t in versions if t.startswith("driver_activity__")]) == 2  # old and new
    assert len([p for p in (out / ".versions").iterdir() if p.is_dir()]) == 2
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_view(spark, schema, table), frame, obj=table)
