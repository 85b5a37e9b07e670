"""Computes the trip feature tables on Spark and writes them as date-partitioned parquet.

    python -m jobs.compute_features --trips data/trips --out data/features [--start D --end D]
    spark-submit jobs/compute_features.py --trips ... --out ...

Writes `<out>/trips_stats_3h/` and `<out>/driver_activity/`, replacing only the dates computed.
Windows need history: trips up to the longest window before --start are read, not written.
"""

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # spark-submit jobs/compute_features.py: make the project importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from py4j.protocol import Py4JJavaError
from pyspark import StorageLevel
from pyspark.errors import AnalysisException, PythonException
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs import trips_loader
from jobs.feature_writer import PARTITION_COLUMN
from jobs.publishing import commit, remove_dead_staging, stage, staging_path
from jobs.quality_report import write_quality_report
from jobs.staged_profile import profile_staged
from jobs.trips_loader import explain_read_error, read_error_cause
from transforms.dataflow import build_driver, feature_inputs, quality_inputs
from transforms.feature_tables import TABLES
from transforms.spark_checks import SPARK_CHECKS, evaluate, profile_from
from transforms.time_columns import window_micros
from transforms.trips_quality import (
    FLAGS,
    RULES,
    duplicate_rules_active,
    rule_bit,
)

log = logging.getLogger("jobs.compute_features")
QUARANTINE_TABLE = "quarantine"


class FeatureJobError(RuntimeError):
    """The feature job cannot run as asked, or its counts do not add up."""


@dataclass
class FeatureRun:
    """What a run read, accepted, quarantined and wrote, its checks and its timings."""

    run_id: str = ""
    trips_read: int = 0
    trips_in_range: int = 0
    trips_accepted: int = 0
    trips_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    tables: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _parse_date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise FeatureJobError(f"{flag} {value!r} is not a date like 2026-01-31") from err


def history_needed(features_conf: dict[str, Any]) -> dt.timedelta:
    """The longest window: how far before --start the trips must be read."""
    inputs = feature_inputs(features_conf)
    windows = [v for k, v in inputs.items() if k.endswith("_window")]
    return dt.timedelta(microseconds=max(window_micros(w) for w in windows))


def run(
    spark: SparkSession,
    conf: dict[str, Any],
    trips: str | None = None,
    out: str | None = None,
    start: str | None = None,
    end: str | None = None,
    tables: list[str] | None = None,
) -> FeatureRun:
    """Computes the feature tables (all by default) for trips dated [start, end], checks them and
    publishes them atomically, with the quarantined rows and a quality report beside them.

    The trips are read once per table and once more for duplicate trip ids (when those rules are
    on), never cached: counts and profiles are observed while the tables are written, and the
    tables are published only once the counts add up and the checks pass."""
    unknown = sorted(set(tables or []) - set(TABLES))
    if unknown:
        raise FeatureJobError(f"unknown table(s) {unknown}: choose from {sorted(TABLES)}")
    tables = list(tables or TABLES)
    trips = trips or conf["paths"]["trips"]
    out = out or conf["paths"]["features"]
    first, last = _parse_date(start, "--start"), _parse_date(end, "--end")
    if first and last and first > last:
        raise FeatureJobError(f"--start {first} is after --end {last}: the date range is empty")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")

    range_from = dt.datetime.combine(first, dt.time(), dt.UTC) if first else None
    range_until = (
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC) if last else None
    )
    read_from = range_from - history_needed(conf["features"]) if range_from else None
    started = dt.datetime.now(dt.UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S%fZ")
    replaces = _dates_replaced(first, last)

    report = FeatureRun(run_id=run_id)
    began = time.perf_counter()
    hamilton = build_driver("spark", (trips_loader,))
    inputs = {
        "spark": spark,
        "trips_location": trips,
        "read_from": read_from,
        "read_until": range_until,
        **feature_inputs(conf["features"]),
        **quality_inputs(conf["quality"], started),
    }
    in_range = _in_range(F.col("event_timestamp"), range_from, range_until)
    shared = None
    staged: list[Path] = []
    try:
        with _explained(trips, always=True):
            nodes = hamilton.execute(["trips_typed", "shared_trip_ids"], inputs=inputs)
            shared = nodes["shared_trip_ids"]
            if duplicate_rules_active(conf["quality"].get("rules")):
                shared = _materialized(shared)
        report.seconds["duplicate trip ids"] = time.perf_counter() - began
        overrides = {"trips_typed": nodes["trips_typed"], "shared_trip_ids": shared}
        checked = hamilton.execute(["trips_checked"], inputs=inputs, overrides=overrides)[
            "trips_checked"
        ]
        for position, name in enumerate(tables):
            table_began = time.perf_counter()
            observation = Observation(f"input_{name}")
            input_metrics = _input_metrics(in_range)
            table = hamilton.execute(
                [name],
                inputs=inputs,
                overrides={
                    **overrides,
                    "trips_checked": checked.observe(observation, *input_metrics),
                },
            )[name].where(in_range)
            with _explained(trips, always=False):
                path, table_profile = _stage(table, out, name, run_id, SPARK_CHECKS.get(name, ()))
            staged.append(path)
            metrics = _observed(observation, checked, input_metrics)
            _take_input_counts(report, name, metrics, first=position == 0)
            if position == 0:
                _gate_on_input(
                    report,
                    conf["quality"],
                    f"{trips} between {first or 'the beginning'} and {last or 'the end'}",
                )
            _judge(name, table_profile, SPARK_CHECKS.get(name, ()), report)
            if position == 0:
                quarantined = hamilton.execute(
                    ["trips_quarantined"],
                    inputs=inputs,
                    overrides={**overrides, "trips_checked": checked},
                )["trips_quarantined"]
                staged.append(
                    _publish_quarantine(quarantined, in_range, out, run_id, report, replaces)
                )
            commit(out, name, path, run_id, replaces)
            report.seconds[name] = time.perf_counter() - table_began
            log.info(
                "published %d rows of %s in %.1f s",
                table_profile["rows"],
                name,
                report.seconds[name],
            )
    finally:
        for path in staged:
            shutil.rmtree(path, ignore_errors=True)
        if shared is not None:
            shared.unpersist()
    report.seconds["total"] = time.perf_counter() - began
    write_quality_report(report, out)
    log.info("feature job done in %.1f s", report.seconds["total"])
    return report


@contextmanager
def _explained(trips: str, always: bool):
    """Turns Spark's errors on reading the trips into one saying what to fix. `always`: any
    error here is a read error; otherwise only those with a known cause are rewritten."""
    try:
        yield
    except (AnalysisException, Py4JJavaError, PythonException) as err:
        if always or read_error_cause(err):
            raise FeatureJobError(explain_read_error(trips, err)) from err
        raise


def _materialized(shared: DataFrame) -> DataFrame:
    """The shared trip ids, computed once. Grouping 1e7 unique ids gains nothing from the
    pre-shuffle partial aggregation, so it is bypassed for this step. None shared (the usual
    case, one pass) becomes an empty table that Spark's optimizer removes, join and all, from
    every plan; otherwise they are cached (caching costs more than the pass, so only then)."""
    spark = shared.sparkSession
    bypass = "spark.sql.execution.bypassPartialAggregation"
    before = spark.conf.get(bypass, None)
    spark.conf.set(bypass, "true")
    try:
        if shared.isEmpty():
            return shared.limit(0)  # planned as an empty local table: no work at all
        shared = shared.persist(StorageLevel.MEMORY_AND_DISK)
        log.warning("%d trip ids are held by more than one row", shared.count())
        return shared
    finally:
        if before is None:
            spark.conf.unset(bypass)
        else:
            spark.conf.set(bypass, before)


def _observed(observation: Observation, frame: DataFrame, metrics: list[Column]) -> dict:
    """The metrics observed while a table computed from `frame` was written. A plan with no
    partitions at all (no input files) reports none: then they are computed directly, at no
    cost."""
    try:
        values = observation.get
    except Py4JJavaError:
        values = {}
    return values or frame.agg(*metrics).first().asDict()


def _input_metrics(in_range: Column) -> list[Column]:
    """Rows read, in range (or without a usable time), accepted, and per rule broken."""
    in_range = in_range | F.col("event_timestamp").isNull()
    flags = F.col(FLAGS)
    return [
        F.count(F.lit(1)).alias("read"),
        F.sum(in_range.cast("long")).alias("in_range"),
        F.sum((in_range & (flags == 0)).cast("long")).alias("accepted"),
        *[
            F.sum((in_range & (flags.bitwiseAND(F.lit(rule_bit(rule))) != 0)).cast("long")).alias(
                rule
            )
            for rule in RULES
        ],
    ]


def _take_input_counts(report: "FeatureRun", table: str, metrics: dict, first: bool) -> None:
    """The input counts observed while `table` was computed; every table must see the same."""
    read, in_range, accepted = metrics["read"], metrics["in_range"] or 0, metrics["accepted"] or 0
    reasons = {rule: metrics[rule] for rule in sorted(RULES) if metrics[rule]}
    counts = (read, in_range, accepted, reasons)
    if not first and counts != (
        report.trips_read,
        report.trips_in_range,
        report.trips_accepted,
        report.quarantine_reasons,
    ):
        raise FeatureJobError(
            f"{table} read {read} trips ({in_range} in range, {accepted} accepted) where the "
            f"tables before it read {report.trips_read} ({report.trips_in_range}, "
            f"{report.trips_accepted}): the trips changed while the job ran; run it again"
        )
    report.trips_read, report.trips_in_range, report.trips_accepted = read, in_range, accepted
    report.trips_quarantined = in_range - accepted
    report.quarantine_reasons = reasons


def _log_input(report: "FeatureRun") -> None:
    log.info(
        "read %d trips: %d in the output range, of which %d accepted and %d quarantined %s",
        report.trips_read,
        report.trips_in_range,
        report.trips_accepted,
        report.trips_quarantined,
        dict(report.quarantine_reasons),
    )


def _gate_on_input(report: "FeatureRun", quality_conf: dict[str, Any], where: str) -> None:
    """Stops the run, before anything is published, when a `fail` rule was broken or no trip
    was accepted."""
    _log_input(report)
    _fail_on_failing_rules(quality_conf, report)
    if report.trips_accepted == 0:
        raise FeatureJobError(
            f"no usable trips in {where} ({report.trips_in_range} read, "
            f"{report.trips_quarantined} quarantined): check --trips and the date range"
        )


def _fail_on_failing_rules(quality_conf: dict[str, Any], report: "FeatureRun") -> None:
    failing = {
        rule: count
        for rule, count in report.quarantine_reasons.items()
        if quality_conf.get("rules", {}).get(rule) == "fail"
    }
    if failing:
        raise FeatureJobError(
            f"quality rules set to fail were broken: {failing} rows; nothing was written. Fix the "
            "input, or set quality.rules.<rule> to quarantine"
        )


def _stage(
    table: DataFrame, out: str, name: str, run_id: str, checks, undated: str | None = None
) -> tuple[Path, dict]:
    """Writes the table to staging and profiles what was written, from the files' footers."""
    remove_dead_staging(out, name)
    staged = stage(table, out, name, run_id, undated)
    schema = table.drop(PARTITION_COLUMN).schema
    return staged, profile_staged(table.sparkSession, staged, schema, checks)


def _judge(name: str, table_profile: dict, checks, report: "FeatureRun") -> None:
    """Records the table's profile and checks; a failing `fail` check, or rows that do not match
    the trips counted, stop its publication."""
    results = evaluate(checks, table_profile)
    report.tables[name] = {**table_profile, "checks": [r.as_dict() for r in results]}
    report.rows_written[name] = table_profile["rows"]
    for result in results:
        if not result.passed:
            level = logging.ERROR if result.check.importance == "fail" else logging.WARNING
            log.log(
                level,
                "%s check of %s.%s: %s",
                result.check.importance,
                name,
                result.check.column,
                "; ".join(result.problems),
            )
    failed = [r for r in results if not r.passed and r.check.importance == "fail"]
    if failed:
        raise FeatureJobError(
            f"{name} failed its checks, so it was not published: "
            + "; ".join(f"{r.check.column}: {', '.join(r.problems)}" for r in failed)
        )
    expected = report.trips_quarantined if name == QUARANTINE_TABLE else report.trips_accepted
    if report.rows_written[name] != expected:
        raise FeatureJobError(
            f"{name}: {report.rows_written[name]} rows written for {expected} "
            f"{'quarantined' if name == QUARANTINE_TABLE else 'accepted'} trips in range: every "
            "trip must give exactly one row; nothing was published"
        )


def _publish_quarantine(
    quarantined: DataFrame, in_range: Column, out: str, run_id: str, report: "FeatureRun", replaces
) -> Path:
    """Publishes the quarantined rows of the range; when the counts say there are none, without
    reading the trips again."""
    began = time.perf_counter()
    if report.trips_quarantined:
        rows = quarantined.where(in_range | F.col("event_timestamp").isNull())
        path, table_profile = _stage(rows, out, QUARANTINE_TABLE, run_id, (), undated="unknown")
    else:
        path = staging_path(out, QUARANTINE_TABLE, run_id)
        path.mkdir(parents=True)
        table_profile = profile_from(quarantined.schema, {"rows": 0})
    _judge(QUARANTINE_TABLE, table_profile, (), report)
    commit(out, QUARANTINE_TABLE, path, run_id, replaces)
    report.seconds[QUARANTINE_TABLE] = time.perf_counter() - began
    return path


def _dates_replaced(first: dt.date | None, last: dt.date | None):
    """Which published date folders a run replaces: every date of its range, emptied ones too
    (a whole run replaces the whole table, undated rows included)."""

    def replaces(folder: str) -> bool:
        value = folder.removeprefix(f"{PARTITION_COLUMN}=")
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            return first is None and last is None
        return (first is None or date >= first) and (last is None or date <= last)

    return replaces


def _in_range(ts, range_from: dt.datetime | None, range_until: dt.datetime | None):
    condition = F.lit(True)
    if range_from is not None:
        condition = condition & (ts >= F.lit(range_from))
    if range_until is not None:
        condition = condition & (ts < F.lit(range_until))
    return condition


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import base_parser, configure_logging, load_from_args
    from jobs.session import get_spark

    parser: argparse.ArgumentParser = base_parser(__doc__)
    parser.add_argument("--trips", help="parquet folder or Spark table (default: conf paths.trips)")
    parser.add_argument("--out", help="output folder (default: conf paths.features)")
    parser.add_argument("--start", help="first date to compute, YYYY-MM-DD (default: all)")
    parser.add_argument("--end", help="last date to compute, YYYY-MM-DD (default: all)")
    parser.add_argument("--tables", nargs="+", choices=sorted(TABLES), help="default: all")
    args = parser.parse_args(argv)
    configure_logging()
    conf = load_from_args(args)
    spark = get_spark(conf)
    trips = (
        args.trips
        if args.trips is None or not os.path.exists(args.trips)
        else os.path.abspath(args.trips)
    )
    out = os.path.abspath(args.out) if args.out else None
    try:
        run(spark, conf, trips=trips, out=out, start=args.start, end=args.end, tables=args.tables)
    except (FeatureJobError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
