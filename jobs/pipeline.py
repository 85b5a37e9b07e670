"""The main job: sample trips, features, registration, a training set, materialization, lookups.

    python -m jobs.pipeline --env local [--regenerate]

Runs on embedded defaults (Spark in-process, data and the Feast registry under ./data, sqlite
online store) and prints rows and seconds per stage, a sample of the training set and the online
answer for a few drivers.
"""

import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import generate_trips
from transforms.feature_tables import TABLES
from trip_features.feature_lineage import code_versions
from trip_features.feature_lineage.run_events import job_run
from trip_features.feature_runs.feature_run import run as run_features
from trip_features.feature_runs.request import FeatureRequest
from trip_features.quality.report import REPORTS
from trip_features.runtime import input_size
from trip_features.runtime.session import get_spark
from trip_features.runtime.settings import Settings

log = logging.getLogger("jobs.pipeline")
SERVICE = "driver_trips_v1"


def sample_entities(spark: SparkSession, conf: Settings, path: str, rows: int = 5_000) -> int:
    """Entity rows to train on: drivers at a later moment than some of their trips, with a label."""
    trips = spark.read.parquet(conf.paths.trips)
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


def run(spark: SparkSession | None, conf: Settings, regenerate: bool = False) -> dict[str, Any]:
    """Runs every stage; returns rows and seconds per stage and the samples. Each stage's job emits
    its OpenLineage events as a child of the pipeline's run. Without `spark`, a session starts once
    the trips exist, so that their size picks the driver's flags
    (trip_features.runtime.input_size)."""
    with job_run(conf, "pipeline"):
        stages = Stages()
        generated = generate_if_missing(stages, conf, regenerate)
        if spark is None:
            spark = get_spark(conf, input_size.small_inputs(conf, [conf.paths.trips]))
        return _stages(spark, conf, stages, generated)


class Stages:
    """Runs a pipeline's stages one by one, logging each and keeping its seconds in `summary`."""

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def __call__(self, name: str, fn, *args, **kwargs):
        log.info("stage %s: started", name)
        began = time.perf_counter()
        result = fn(*args, **kwargs)
        self.summary[f"{name} seconds"] = time.perf_counter() - began
        log.info("stage %s: done in %.1f s", name, self.summary[f"{name} seconds"])
        return result


def generate_if_missing(stage: Stages, conf: Settings, regenerate: bool) -> bool:
    """Writes sample trips when asked to or when there are none; whether it did. Needs no Spark:
    the job runs it before its session starts, so the size of the trips is known then."""
    trips = conf.paths.trips
    missing = not os.path.isdir(trips) or not os.listdir(trips)
    if not (regenerate or missing):
        return False
    stage.summary["trips generated"] = stage(
        "generate", generate_trips.run, conf, trips, overwrite=True
    )
    return True


def _stages(spark: SparkSession, conf: Settings, stage: Stages, generated: bool) -> dict[str, Any]:
    from definitions.serving_log import LogSettings
    from jobs import (  # Feast: imported once it is needed
        consistency,
        materialize,
        register,
        training_set,
    )

    summary = stage.summary
    data = os.path.dirname(conf.paths.features)
    trips = conf.paths.trips
    versions = code_versions.table_code_versions(conf)
    published = code_versions.published_versions(spark, conf)
    stale = [t for t in TABLES if generated or published[t] != versions[t]]
    for table in TABLES:
        summary[f"{table} code"] = versions[table] + ("" if table in stale else " (up to date)")
    if stale:
        report = stage("features", run_features, spark, conf, tables=stale)
        summary["trips read"] = report.trips_read
        summary["trips accepted"] = report.trips_accepted
        summary["trips quarantined"] = report.trips_quarantined
        summary.update({f"{name} rows": rows for name, rows in report.rows_written.items()})
    else:
        log.info("every feature table was made by this code: none recomputed")
    registered = registered_views(conf)
    stage("register", register.run, conf, spark=spark)
    tables = [t for t in TABLES if t in stale or needs_refresh(registered.get(t), versions[t])]
    # every view of a refreshed table: its per-trip view and, for a temporal one, its recent trips
    refresh = sorted(
        name
        for name, view in registered_views(conf).items()
        if view.tags.get("table") in tables
        or needs_refresh(view, view.tags.get(code_versions.CODE_VERSION_TAG))
    )
    summary["online refreshed"] = ", ".join(refresh) or "none (every view is current)"
    purged = [v for v in refresh if v in registered]
    if purged:  # the old code's rows go at once: none may be served after the code changed
        stage("purge", materialize.purge, conf, purged)

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
    if refresh:
        stage(
            "materialize",
            materialize.run,
            conf,
            start=str(bounds[0]),
            end=str(bounds[1] + pd.Timedelta(seconds=1)),
            views=refresh,
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
    if conf.lineage.transport == "file":
        summary["lineage events"] = conf.paths.lineage_events
    reports = Path(conf.paths.features) / REPORTS
    page = reports / (f"{report.run_id}.html" if stale else "latest.html")
    summary["quality page"] = f"file://{page}"
    summary["feature UI"] = "python -m jobs.ui (same --env and --set as this run)"
    summary["online asked at"] = bounds[1]  # the last trip's time: windows hold trips then
    asked = dt.datetime.now(dt.UTC)
    summary["online answer"] = stage(
        "online lookup", materialize.lookup, conf, drivers + [-1], SERVICE, bounds[1]
    )
    if LogSettings.from_conf(conf) is not None:  # what was just served, replayed offline
        replayed = stage("consistency", consistency.run, spark, conf, [SERVICE], None, asked)
        causes = ", ".join(f"{c} {n}" for c, n in replayed["causes"].items() if n) or "none"
        summary["served vs offline"] = (
            f"{replayed['match_rate']:.2%} of {replayed['compared']} values equal "
            f"(differences: {causes})"
        )
    return summary


def registered_views(conf: Settings) -> dict:
    """Feature views in the registry now, by name (none before the first registration)."""
    from definitions.feature_store import feature_store

    return {v.name: v for v in feature_store(conf).list_feature_views()}


def needs_refresh(view, code_version: str) -> bool:
    """Whether a view's online rows must be rebuilt: it is new, its table's code changed since
    it was registered, or it holds no materialized rows yet (a run stopped before)."""
    if view is None:
        return True
    return view.tags.get(code_versions.CODE_VERSION_TAG) != code_version or not (
        view.materialization_intervals
    )


def print_summary(summary: dict[str, Any]) -> None:
    print("\npipeline summary")
    for key, value in summary.items():
        if isinstance(value, pd.DataFrame):
            continue
        print(f"  {key:<28} {value:.1f}" if isinstance(value, float) else f"  {key:<28} {value}")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"\ntraining set ({SERVICE}), first rows:")
        print(summary["training set sample"].to_string(index=False))
        print(
            "\nonline answer (driver -1 is unknown: no trips in its windows, other features null):"
        )
        print(summary["online answer"].to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--regenerate", action="store_true", help="write new sample trips first")
    args = parser.parse_args(argv)
    configure_logging()

    def body():
        conf = load_from_args(args)
        FeatureRequest.of(conf)  # configuration checked before Spark starts
        print_summary(run(None, conf, regenerate=args.regenerate))

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
