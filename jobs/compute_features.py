"""Computes the trip feature tables on Spark and publishes them as date-partitioned parquet.

    python -m jobs.compute_features --trips data/trips --out data/features [--start D --end D]
    trip-features compute --trips ... --out ...
    spark-submit jobs/compute_features.py --trips ... --out ...

Writes `<out>/trips_stats_3h/`, `<out>/driver_activity/` and `<out>/quarantine/`, replacing only
the dates computed, all of them at once or none (see storage/publication.py), and a quality
report under `<out>/_reports/`, also when the run fails. Windows need history: trips up to the
longest window before --start are read, not written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException, PythonException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType

from feature_lineage import code_versions, job_datasets
from feature_lineage.run_events import job_run
from quality.checks import profile_from, table_checks
from quality.footer_profile import profile_staged
from quality.gate import (
    QUARANTINE_TABLE,
    FeatureRun,
    gate_on_input,
    input_metrics,
    judge_table,
    take_input_counts,
)
from quality.observed_inputs import ObservedInputs
from quality.quarantine_counts import reasons_by_date
from quality.report import write_quality_report
from runtime.errors import JobError
from runtime.faults import checkpoint
from runtime.session import hamilton_adapters, own_session
from storage import trips_reader
from storage.publication import StagedTable
from storage.publishers import publisher_for
from storage.read_errors import explain_read_error, read_error_cause
from storage.table_layout import PARTITION_COLUMN, write_by_date
from transforms.catalogue import Catalogue
from transforms.dataflow import build_driver, quality_inputs
from transforms.feature_tables import TABLES
from transforms.quality_rules import checked_rules, duplicate_rules_active

log = logging.getLogger("jobs.compute_features")

# Settings the job's own session needs to be correct; the caller's session keeps its own.
JOB_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # grouping 1e7 mostly unique trip ids gains nothing from a pre-shuffle partial aggregation
    "spark.sql.execution.bypassPartialAggregation": "true",
}


UNDATED = "unknown"  # the quarantine's folder for rows without an event time


class FeatureJobError(JobError):
    """The feature job cannot run as asked."""


@dataclass(frozen=True)
class FeatureRequest:
    """What a run computes: its input, output, date range and tables, checked before Spark."""

    trips: str
    out: str
    first: dt.date | None
    last: dt.date | None
    tables: tuple[str, ...]
    run_id: str
    started: dt.datetime

    @classmethod
    def of(cls, conf, trips=None, out=None, start=None, end=None, tables=None) -> FeatureRequest:
        unknown = sorted(set(tables or []) - set(TABLES))
        if unknown:
            raise FeatureJobError(f"unknown table(s) {unknown}: choose from {sorted(TABLES)}")
        first, last = _parse_date(start, "--start"), _parse_date(end, "--end")
        if first and last and first > last:
            raise FeatureJobError(f"--start {first} is after --end {last}: the date range is empty")
        # Windows, names and rules: a clear error now, before Spark starts, not mid-run.
        Catalogue.from_conf(conf["features"])
        checked_rules(conf["quality"].get("rules"))
        started = dt.datetime.now(dt.UTC)
        return cls(
            trips=trips or conf["paths"]["trips"],
            out=out or conf["paths"]["features"],
            first=first,
            last=last,
            tables=tuple(tables or TABLES),
            run_id=started.strftime("%Y%m%dT%H%M%S%fZ"),
            started=started,
        )

    @property
    def range_from(self) -> dt.datetime | None:
        return dt.datetime.combine(self.first, dt.time(), dt.UTC) if self.first else None

    @property
    def range_until(self) -> dt.datetime | None:
        day_after = self.last + dt.timedelta(days=1) if self.last else None
        return dt.datetime.combine(day_after, dt.time(), dt.UTC) if day_after else None

    def in_range(self) -> Column:
        condition = F.lit(True)
        if self.range_from is not None:
            condition = condition & (F.col("event_timestamp") >= F.lit(self.range_from))
        if self.range_until is not None:
            condition = condition & (F.col("event_timestamp") < F.lit(self.range_until))
        return condition

    def replaces(self, folder: str) -> bool:
        """Whether a published date folder is replaced: every date of the range, emptied ones
        too (a whole run replaces the whole table, undated rows included)."""
        value = folder.removeprefix(f"{PARTITION_COLUMN}=")
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            return self.first is None and self.last is None
        return (self.first is None or date >= self.first) and (
            self.last is None or date <= self.last
        )

    def describe(self) -> str:
        return f"{self.trips} between {self.first or 'the beginning'} and {self.last or 'the end'}"


def _parse_date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise FeatureJobError(f"{flag} {value!r} is not a date like 2026-01-31") from err


def run(
    spark: SparkSession,
    conf: dict[str, Any],
    trips: str | None = None,
    out: str | None = None,
    start: str | None = None,
    end: str | None = None,
    tables: list[str] | None = None,
) -> FeatureRun:
    """Computes the feature tables (all by default) for trips dated [start, end], checks them
    and publishes them with the quarantined rows, all at once or none; writes the quality report
    either way."""
    request = FeatureRequest.of(conf, trips, out, start, end, tables)
    trips_read = job_datasets.location_dataset(conf, request.trips)
    with job_run(conf, "compute_features", inputs=[trips_read]) as lineage:
        report = _run(spark, conf, request, lineage, trips_read)
    return report


def _run(spark, conf, request: FeatureRequest, lineage, trips_read) -> FeatureRun:
    """The run itself; `lineage` receives the published tables for the run's COMPLETE event."""
    report = FeatureRun(run_id=request.run_id)
    began = time.perf_counter()
    session = own_session(spark, JOB_SETTINGS)
    publisher = publisher_for(session, conf, request.out)
    report.code_versions = _code_versions(session, conf, request)
    staging = publisher.staging(request.run_id)
    families = None
    try:
        publisher.remove_dead_staging()
        families = TableFamilies(session, conf, request, report)
        staged = {name: families.stage(name, staging) for name in request.tables}
        staged[QUARANTINE_TABLE] = families.stage_quarantine(staging)
        checkpoint("publish:start")
        publisher.publish(staged, request.run_id, request.replaces)
        report.status = "published"
    except BaseException as err:
        report.status, report.error = "failed", str(err).splitlines()[0] if str(err) else repr(err)
        raise
    finally:
        publisher.finish(staging, report.status == "published")
        if families is not None:
            families.release()
        report.seconds["total"] = time.perf_counter() - began
        write_quality_report(report, request.out)
    log.info("feature job published %s in %.1f s", report.rows_written, report.seconds["total"])
    lineage.outputs = job_datasets.feature_tables(conf, publisher, staged, report, trips_read)
    return report


class TableFamilies:
    """The feature dataflow of one run: each table family (a table and what it needs) is asked
    of the Hamilton driver once, written to staging while its input counts are observed, profiled
    from the written files and judged."""

    def __init__(self, spark: SparkSession, conf: dict[str, Any], request: FeatureRequest, report):
        self.request, self.report = request, report
        self.rules = dict(conf["quality"].get("rules", {}))
        self.adapter = ObservedInputs(
            input_metrics(request.in_range()), duplicate_rules_active(self.rules)
        )
        self.catalogue = Catalogue.from_conf(conf["features"])
        history = self.catalogue.history()
        adapters = (self.adapter, *hamilton_adapters(spark))
        self.hamilton = build_driver("spark", conf["features"], (trips_reader,), adapters=adapters)
        self.inputs = {
            "spark": spark,
            "trips_location": request.trips,
            "read_from": request.range_from - history if request.range_from else None,
            "read_until": request.range_until,
            **quality_inputs(conf["quality"], request.started),
        }

    def stage(self, name: str, staging: Path) -> StagedTable:
        """Writes table `name` to staging, takes the input counts seen meanwhile, judges it."""
        began = time.perf_counter()
        log.info("computing %s (read, quality rules, features, write to staging)", name)
        observation = self.adapter.observe(name)
        with _explained(self.request.trips, always=True):
            table = self._compute(name).where(self.request.in_range())
        with _explained(self.request.trips, always=False):
            staged, profile = _write_and_profile(
                table, staging / name, table_checks(self.catalogue, name)
            )
        code_versions.record(staging / name, self.report.code_versions[name])
        metrics = self._input_counts(observation)
        if self._disagree(metrics, profile["rows"]):
            metrics = self._recounted(f"{name}: {profile['rows']} rows written")
        take_input_counts(self.report, name, metrics)
        self._check_earlier_tables()
        gate_on_input(self.report, self.rules, self.request.describe())
        judge_table(name, profile, table_checks(self.catalogue, name), self.report)
        self.report.seconds[name] = time.perf_counter() - began
        log.info("staged %d rows of %s in %.1f s", profile["rows"], name, self.report.seconds[name])
        checkpoint(f"staged:{name}")
        return staged

    def stage_quarantine(self, staging: Path) -> StagedTable:
        """Writes the quarantined rows of the range; when the counts say there are none, without
        reading the trips again."""
        began = time.perf_counter()
        self.adapter.observation = None
        quarantined = self._compute("trips_quarantined")
        path = staging / QUARANTINE_TABLE
        if self.report.trips_quarantined:
            rows = quarantined.where(self.request.in_range() | F.col("event_timestamp").isNull())
            with _explained(self.request.trips, always=False):
                staged, profile = _write_and_profile(rows, path, (), undated=UNDATED)
            self.report.quarantine_by_date = reasons_by_date(path)
        else:
            path.mkdir(parents=True)
            staged = StagedTable(path, _dated_schema(quarantined, UNDATED))
            profile = profile_from(quarantined.schema, {"rows": 0})
        if profile["rows"] != self.report.trips_quarantined:
            exact = self._recounted(f"quarantine: {profile['rows']} rows written")
            take_input_counts(self.report, QUARANTINE_TABLE, exact)
            self._check_earlier_tables()
        judge_table(QUARANTINE_TABLE, profile, (), self.report)
        self.report.seconds[QUARANTINE_TABLE] = time.perf_counter() - began
        return staged

    def _input_counts(self, observation) -> dict:
        """The input counts observed while a table was written. A plan with no partitions at all
        (no input files) reports none: then they are counted directly, at no cost."""
        try:
            values = observation.get
        except Py4JJavaError:
            values = {}
        return values or self._counted_directly()

    def _counted_directly(self) -> dict:
        self.adapter.observation = None
        metrics = input_metrics(self.request.in_range())
        return self._compute("trips_checked").agg(*metrics).first().asDict()

    def _disagree(self, metrics: dict, rows: int) -> bool:
        """Whether observed counts disagree with the rows written or with another table's."""
        seen = self.report._inputs_seen_by is not None
        counts = (metrics["read"], metrics["in_range"] or 0, metrics["accepted"] or 0)
        earlier = (self.report.trips_read, self.report.trips_in_range, self.report.trips_accepted)
        return (metrics["accepted"] or 0) != rows or (seen and counts != earlier)

    def _recounted(self, why: str) -> dict:
        """Exact input counts, by one aggregation. Observed counts are accumulators of a map
        stage: when Spark re-runs tasks (an executor lost with its shuffle output) they count
        those rows twice, while the tables written stay exact."""
        log.warning("%s disagree with the observed input counts: counting the input directly", why)
        self.report._inputs_seen_by = None  # the exact counts replace the observed ones
        return self._counted_directly()

    def _check_earlier_tables(self) -> None:
        """Every feature table written so far holds one row per accepted trip."""
        for table, rows in self.report.rows_written.items():
            if table != QUARANTINE_TABLE and rows != self.report.trips_accepted:
                raise FeatureJobError(
                    f"{table}: {rows} rows written for {self.report.trips_accepted} accepted trips "
                    "in range: every trip must give exactly one row; nothing was published"
                )

    def _compute(self, node: str) -> DataFrame:
        return self.hamilton.execute([node], inputs=self.inputs)[node]

    def release(self) -> None:
        self.adapter.release()


def _code_versions(spark: SparkSession, conf: dict, request: FeatureRequest) -> dict[str, str]:
    """The code version each table is published with; says when it differs from the published
    one, and what a partial range leaves behind then."""
    versions = code_versions.table_code_versions(conf)
    published = code_versions.published_versions(spark, conf, request.out)
    for table in request.tables:
        if published[table] in (versions[table], code_versions.UNKNOWN):
            continue
        log.info(
            "%s: code changed since its published version (%s -> %s)",
            table,
            published[table],
            versions[table],
        )
        if request.first or request.last:
            log.warning(
                "%s: only %s is recomputed; its other dates keep values of the earlier code "
                "(run without --start/--end, or jobs.pipeline, to recompute them all)",
                table,
                request.describe(),
            )
    return {table: versions[table] for table in request.tables}


def _write_and_profile(table: DataFrame, folder: Path, checks, undated: str | None = None):
    """Writes the table to staging and profiles what was written, from the files' footers."""
    write_by_date(table, folder, undated)
    schema = table.drop(PARTITION_COLUMN).schema
    staged = StagedTable(folder, _dated_schema(table, undated))
    return staged, profile_staged(table.sparkSession, folder, schema, checks)


def _dated_schema(table: DataFrame, undated: str | None) -> StructType:
    """The table's columns as written: the data columns, then the `date` partition (text when
    undated rows get a folder of their own)."""
    fields = [f for f in table.schema.fields if f.name != PARTITION_COLUMN]
    kind = StringType() if undated is not None else DateType()
    return StructType([*fields, StructField(PARTITION_COLUMN, kind)])


@contextmanager
def _explained(trips: str, always: bool):
    """Turns Spark's errors on reading the trips into one saying what to fix. `always`: any
    error here is a read error; otherwise only those with a known cause are rewritten."""
    try:
        yield
    except (AnalysisException, Py4JJavaError, PythonException) as err:
        missing = missing_worker_module(err)
        if missing:
            raise FeatureJobError(
                f"the executors' Python cannot import {missing!r}: install the project's "
                "dependencies where the workers run (scripts/submit.sh --packed-env ships them; "
                "--workers-python names a Python that has them)"
            ) from err
        if always or read_error_cause(err):
            raise FeatureJobError(explain_read_error(trips, err)) from err
        raise


def missing_worker_module(err: Exception) -> str | None:
    """The module a Python worker failed to import, when that is why Spark failed."""
    found = re.search(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'", str(err))
    return found.group(1) if found else None


def main(argv: list[str] | None = None) -> int:
    from runtime import input_size
    from runtime.command_line import answered, base_parser, configure_logging, load_from_args
    from runtime.session import get_spark

    parser: argparse.ArgumentParser = base_parser(__doc__)
    parser.add_argument("--trips", help="parquet folder or Spark table (default: conf paths.trips)")
    parser.add_argument("--out", help="output folder (default: conf paths.features)")
    parser.add_argument("--start", help="first date to compute, YYYY-MM-DD (default: all)")
    parser.add_argument("--end", help="last date to compute, YYYY-MM-DD (default: all)")
    parser.add_argument("--tables", nargs="+", choices=sorted(TABLES), help="default: all")
    args = parser.parse_args(argv)
    configure_logging()

    def body():
        conf = load_from_args(args)
        trips = (
            str(Path(args.trips).resolve())
            if args.trips and Path(args.trips).exists()
            else args.trips
        )
        out = str(Path(args.out).resolve()) if args.out else None
        # Everything that can be checked without Spark is checked before the JVM starts.
        # An empty date (a scheduler's unset parameter) means the whole range.
        start, end = args.start or None, args.end or None
        FeatureRequest.of(conf, trips, out, start, end, args.tables)
        small = input_size.small_inputs(conf, [trips or conf["paths"]["trips"]])
        run(get_spark(conf, small), conf, trips, out, start, end, args.tables)

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
