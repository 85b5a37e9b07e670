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
import sys
import time
from dataclasses import dataclass, field
from typing import Any

if __package__ in (None, ""):  # spark-submit jobs/compute_features.py: make the project importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs import trips_loader
from jobs.feature_writer import write_partitions
from transforms.dataflow import build_driver, feature_inputs
from transforms.feature_tables import TABLES
from transforms.time_columns import window_micros

log = logging.getLogger("jobs.compute_features")


class FeatureJobError(RuntimeError):
    """The feature job cannot run as asked, or its counts do not add up."""


@dataclass
class FeatureRun:
    """What a run read, wrote and how long each stage took."""

    trips_read: int = 0
    trips_in_range: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
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
    """Computes the feature tables (all by default) for trips dated [start, end] and writes them."""
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

    report = FeatureRun()
    began = time.perf_counter()
    hamilton = build_driver("spark", (trips_loader,))
    inputs = {
        "spark": spark,
        "trips_location": trips,
        "read_from": read_from,
        "read_until": range_until,
        **feature_inputs(conf["features"]),
    }
    computed = hamilton.execute(["trips", *tables], inputs=inputs)
    trips_df: DataFrame = computed.pop("trips")
    in_range = _in_range(F.col("event_timestamp"), range_from, range_until)
    counted = trips_df.select(
        F.count(F.lit(1)).alias("read"), F.sum(in_range.cast("long")).alias("in_range")
    ).first()
    report.trips_read, report.trips_in_range = counted["read"], counted["in_range"] or 0
    report.seconds["read"] = time.perf_counter() - began
    log.info(
        "read %d trips (%d in the output range) from %s",
        report.trips_read,
        report.trips_in_range,
        trips,
    )
    if report.trips_in_range == 0:
        raise FeatureJobError(
            f"no trips in {trips} between {first or 'the beginning'} and {last or 'the end'}: "
            "check --trips and the date range"
        )

    for name, table in computed.items():
        stage_began = time.perf_counter()
        observation = Observation(name)
        table = table.where(_in_range(F.col("event_timestamp"), range_from, range_until))
        write_partitions(
            table.observe(observation, F.count(F.lit(1)).alias("rows")), os.path.join(out, name)
        )
        report.rows_written[name] = observation.get["rows"]
        report.seconds[name] = time.perf_counter() - stage_began
        log.info(
            "wrote %d rows of %s in %.1f s", report.rows_written[name], name, report.seconds[name]
        )
        if report.rows_written[name] != report.trips_in_range:
            raise FeatureJobError(
                f"{name}: wrote {report.rows_written[name]} rows for {report.trips_in_range} "
                "trips in range; every trip must give exactly one row"
            )
    log.info("feature job done in %.1f s", time.perf_counter() - began)
    return report


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
