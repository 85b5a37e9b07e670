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
from dataclasses import dataclass, field
from typing import Any

if __package__ in (None, ""):  # spark-submit jobs/compute_features.py: make the project importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from py4j.protocol import Py4JJavaError
from pyspark import StorageLevel
from pyspark.errors import AnalysisException, PythonException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import trips_loader
from jobs.feature_writer import PARTITION_COLUMN, with_date_partition
from jobs.publishing import commit, remove_dead_staging, stage
from jobs.quality_report import write_quality_report
from jobs.trips_loader import explain_read_error
from transforms.dataflow import build_driver, feature_inputs, quality_inputs
from transforms.feature_tables import TABLES
from transforms.spark_checks import SPARK_CHECKS, evaluate, profile
from transforms.time_columns import window_micros
from transforms.trips_quality import FLAGS, RULES, rule_bit

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
    publishes them atomically, with the quarantined rows and a quality report beside them."""
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
    try:
        checked = hamilton.execute(["trips_checked"], inputs=inputs)["trips_checked"]
        checked = checked.persist(StorageLevel.MEMORY_AND_DISK)
        _count_input(checked, report, range_from, range_until)
    except (AnalysisException, Py4JJavaError, PythonException) as err:
        raise FeatureJobError(explain_read_error(trips, err)) from err
    try:
        report.seconds["read and check"] = time.perf_counter() - began
        log.info(
            "read %d trips: %d in the output range, of which %d accepted and %d quarantined %s",
            report.trips_read,
            report.trips_in_range,
            report.trips_accepted,
            report.trips_quarantined,
            dict(report.quarantine_reasons),
        )
        _fail_on_failing_rules(conf["quality"], report)
        if report.trips_accepted == 0:
            raise FeatureJobError(
                f"no usable trips in {trips} between {first or 'the beginning'} and "
                f"{last or 'the end'} ({report.trips_in_range} read, "
                f"{report.trips_quarantined} quarantined): check --trips and the date range"
            )
        overrides = {"trips_checked": checked}
        computed = hamilton.execute(
            ["trips_quarantined", *tables], inputs=inputs, overrides=overrides
        )
        quarantined = computed.pop("trips_quarantined").where(
            _in_range(F.col("event_timestamp"), range_from, range_until)
            | F.col("event_timestamp").isNull()
        )
        _publish(quarantined, out, QUARANTINE_TABLE, run_id, report, checks=(), undated="unknown")
        if report.rows_written[QUARANTINE_TABLE] != report.trips_quarantined:
            raise FeatureJobError(
                f"quarantine: {report.rows_written[QUARANTINE_TABLE]} rows written for "
                f"{report.trips_quarantined} quarantined trips: a row was lost"
            )
        for name, table in computed.items():
            table = table.where(_in_range(F.col("event_timestamp"), range_from, range_until))
            _publish(table, out, name, run_id, report, checks=SPARK_CHECKS.get(name, ()))
            if report.rows_written[name] != report.trips_accepted:
                raise FeatureJobError(
                    f"{name}: {report.rows_written[name]} rows for {report.trips_accepted} "
                    "accepted trips in range; every trip must give exactly one row"
                )
    finally:
        checked.unpersist()
    report.seconds["total"] = time.perf_counter() - began
    write_quality_report(report, out)
    log.info("feature job done in %.1f s", report.seconds["total"])
    return report


def _count_input(checked: DataFrame, report: "FeatureRun", range_from, range_until) -> None:
    """Rows read, rows in range (or without a usable time), accepted and by reason: one pass."""
    in_range = (
        _in_range(F.col("event_timestamp"), range_from, range_until)
        | F.col("event_timestamp").isNull()
    )
    # One pass: rows read, in range, accepted, and per rule broken (a row may break several).
    flags = F.col(FLAGS)
    row = checked.agg(
        F.count(F.lit(1)).alias("read"),
        F.sum(in_range.cast("long")).alias("in_range"),
        F.sum((in_range & (flags == 0)).cast("long")).alias("accepted"),
        *[
            F.sum((in_range & (flags.bitwiseAND(F.lit(rule_bit(rule))) != 0)).cast("long")).alias(
                rule
            )
            for rule in RULES
        ],
    ).first()
    report.trips_read = row["read"]
    report.trips_in_range = row["in_range"] or 0
    report.trips_accepted = row["accepted"] or 0
    report.trips_quarantined = report.trips_in_range - report.trips_accepted
    report.quarantine_reasons = {rule: row[rule] for rule in sorted(RULES) if row[rule]}


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


def _publish(
    table: DataFrame,
    out: str,
    name: str,
    run_id: str,
    report: "FeatureRun",
    checks,
    undated: str | None = None,
) -> None:
    """Stages the table, checks it, then swaps it in; a failing `fail` check publishes nothing."""
    stage_began = time.perf_counter()
    remove_dead_staging(out, name)
    staged = stage(table, out, name, run_id, undated)
    try:
        schema = with_date_partition(table, undated).schema  # explicit: empty tables have no files
        staged_frame = table.sparkSession.read.schema(schema).parquet(str(staged))
        table_profile = profile(staged_frame.drop(PARTITION_COLUMN))
        results = evaluate(staged_frame, checks, table_profile)
        report.tables[name] = {
            **table_profile,
            "checks": [r.as_dict() for r in results],
        }
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
        commit(out, name, staged, run_id)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    report.seconds[name] = time.perf_counter() - stage_began
    log.info(
        "published %d rows of %s in %.1f s", report.rows_written[name], name, report.seconds[name]
    )


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
