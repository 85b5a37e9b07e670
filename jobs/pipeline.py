"""The main job: sample trips, features, registration, a training set, materialization, lookups.

    python -m jobs.pipeline --env local [--regenerate]

Runs on embedded defaults (Spark in-process, data and the Feast registry under ./data, sqlite
online store) and prints rows and seconds per stage, a sample of the training set and the online
answer for a few drivers.
"""

import logging
import os
import sys
import time
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import compute_features, generate_trips

log = logging.getLogger("jobs.pipeline")
SERVICE = "driver_trips_v1"


def sample_entities(spark: SparkSession, conf: dict[str, Any], path: str, rows: int = 5_000) -> int:
    """Entity rows to train on: drivers at a later moment than some of their trips, with a label."""
    trips = spark.read.parquet(conf["paths"]["trips"])
    fraction = min(1.0, 2.0 * rows / max(1, trips.count()))
    entities = (
        trips.sample(fraction=fraction, seed=7)
        .select(
            "driver_id",
            (F.col("event_timestamp") + F.expr("INTERVAL 20 MINUTES")).alias("event_timestamp"),
            (F.col("trip_dist") > 5).cast("int").alias("label_long_trip"),
        )
        .withColumn("request_timestamp", F.col("event_timestamp"))
        .orderBy("event_timestamp", "driver_id")
        .limit(rows)
    )
    entities.write.mode("overwrite").parquet(path)
    return rows


def run(spark: SparkSession, conf: dict[str, Any], regenerate: bool = False) -> dict[str, Any]:
    """Runs every stage; returns rows and seconds per stage and the samples."""
    from jobs import materialize, register, training_set  # Feast: imported once it is needed

    summary: dict[str, Any] = {}
    data = os.path.dirname(conf["paths"]["features"])
    trips = conf["paths"]["trips"]

    def stage(name: str, fn, *args, **kwargs):
        log.info("stage %s: started", name)
        began = time.perf_counter()
        result = fn(*args, **kwargs)
        summary[f"{name} seconds"] = time.perf_counter() - began
        log.info("stage %s: done in %.1f s", name, summary[f"{name} seconds"])
        return result

    if regenerate or not os.path.isdir(trips) or not os.listdir(trips):
        summary["trips generated"] = stage(
            "generate", generate_trips.run, conf, trips, overwrite=True
        )
    report = stage("features", compute_features.run, spark, conf)
    summary["trips read"] = report.trips_read
    summary["trips accepted"] = report.trips_accepted
    summary["trips quarantined"] = report.trips_quarantined
    summary.update({f"{name} rows": rows for name, rows in report.rows_written.items()})
    stage("register", register.run, conf)

    entities = os.path.join(data, "training_entities")
    sample_entities(spark, conf, entities)
    out = os.path.join(data, "training_sets", SERVICE)
    summary["training set rows"] = stage(
        "training set", training_set.run, spark, conf, entities, SERVICE, out
    )
    summary["training set sample"] = pd.read_parquet(out).head(5)

    bounds = (
        spark.read.parquet(trips).agg(F.min("event_timestamp"), F.max("event_timestamp")).first()
    )
    stage(
        "materialize",
        materialize.run,
        conf,
        start=str(bounds[0]),
        end=str(bounds[1] + pd.Timedelta(seconds=1)),
    )
    drivers = [
        r["driver_id"]
        for r in spark.read.parquet(trips)
        .select("driver_id")
        .distinct()
        .orderBy("driver_id")
        .limit(3)
        .collect()
    ]
    summary["online answer"] = stage(
        "online lookup", materialize.lookup, conf, drivers + [-1], SERVICE
    )
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print("\npipeline summary")
    for key, value in summary.items():
        if isinstance(value, pd.DataFrame):
            continue
        print(f"  {key:<28} {value:.1f}" if isinstance(value, float) else f"  {key:<28} {value}")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"\ntraining set ({SERVICE}), first rows:")
        print(summary["training set sample"].to_string(index=False))
        print("\nonline answer (driver -1 is unknown: its features are null):")
        print(summary["online answer"].to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    from runtime.cli import answered, base_parser, configure_logging, load_from_args
    from runtime.session import get_spark

    parser = base_parser(__doc__)
    parser.add_argument("--regenerate", action="store_true", help="write new sample trips first")
    args = parser.parse_args(argv)
    configure_logging()

    def body():
        conf = load_from_args(args)
        compute_features.FeatureRequest.of(conf)  # configuration checked before Spark starts
        print_summary(run(get_spark(conf), conf, regenerate=args.regenerate))

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
