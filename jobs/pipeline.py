"""The main job: sample trips (when there are none), then the feature tables, with a summary.

    python -m jobs.pipeline --env local

Runs on embedded defaults: Spark in-process, data under ./data (see conf/).
"""

import logging
import os
import sys
import time
from typing import Any

if __package__ in (None, ""):  # spark-submit jobs/pipeline.py: make the project importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql import SparkSession

from jobs import compute_features, generate_trips

log = logging.getLogger("jobs.pipeline")


def run(spark: SparkSession, conf: dict[str, Any], regenerate: bool = False) -> dict[str, Any]:
    """Runs every stage; returns rows and seconds per stage."""
    summary: dict[str, Any] = {}
    trips = conf["paths"]["trips"]
    began = time.perf_counter()
    if regenerate or not os.path.isdir(trips) or not os.listdir(trips):
        summary["generated trips"] = generate_trips.run(conf, trips, overwrite=True)
    summary["generate seconds"] = time.perf_counter() - began
    report = compute_features.run(spark, conf)
    summary["trips read"] = report.trips_read
    summary.update({f"{name} rows": rows for name, rows in report.rows_written.items()})
    summary.update({f"{stage} seconds": s for stage, s in report.seconds.items()})
    sample = spark.read.parquet(os.path.join(conf["paths"]["features"], "trips_stats_3h"))
    summary["sample"] = sample.orderBy("event_timestamp", "trip_id").limit(5).toPandas()
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print("\npipeline summary")
    for key, value in summary.items():
        if key != "sample":
            print(
                f"  {key:<28} {value:.1f}" if isinstance(value, float) else f"  {key:<28} {value}"
            )
    print("\ntrips_stats_3h, first rows:")
    print(summary["sample"].to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import base_parser, configure_logging, load_from_args
    from jobs.session import get_spark

    parser = base_parser(__doc__)
    parser.add_argument("--regenerate", action="store_true", help="write new sample trips first")
    args = parser.parse_args(argv)
    configure_logging()
    conf = load_from_args(args)
    try:
        summary = run(get_spark(conf), conf, regenerate=args.regenerate)
    except (compute_features.FeatureJobError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        return 2
    print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
