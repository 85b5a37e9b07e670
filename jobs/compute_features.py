"""Computes the trip feature tables on Spark and publishes them as date-partitioned parquet.

    python -m jobs.compute_features --trips data/trips --out data/features [--start D --end D]
    trip-features compute --trips ... --out ...
    spark-submit jobs/compute_features.py --trips ... --out ...

Writes `<out>/trips_stats_3h/`, `<out>/driver_activity/` and `<out>/quarantine/`, replacing only the
dates computed, all of them at once or none (trip_features/feature_runs/,
trip_features/storage/file_publication.py), and a quality report under `<out>/_reports/`, also when
the run fails. Windows need history: trips up to the longest window before --start are read, not
written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transforms.feature_tables import TABLES
from trip_features.feature_runs.feature_run import run
from trip_features.feature_runs.request import FeatureRequest
from trip_features.runtime.locations import is_local, is_table_name

__all__ = ["main", "run"]  # run: the feature run itself (feature_runs), for notebooks


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime import input_size
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )
    from trip_features.runtime.session import get_spark

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
        trips = args.trips
        if trips and is_local(trips) and not is_table_name(trips):
            trips = str(Path(trips).resolve())
        out = str(Path(args.out).resolve()) if args.out else None
        # Everything that can be checked without Spark is checked before the JVM starts.
        # An empty date (a scheduler's unset parameter) means the whole range.
        start, end = args.start or None, args.end or None
        FeatureRequest.of(conf, trips, out, start, end, args.tables)
        small = input_size.small_inputs(conf, [trips or conf.paths.trips])
        run(get_spark(conf, small), conf, trips, out, start, end, args.tables)

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
