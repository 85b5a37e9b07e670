"""Builds a point-in-time-correct training set for a feature service and writes it as parquet.

    python -m jobs.training_set --entities PATH|TABLE|SQL --service NAME --out PATH

Entity rows (driver_id, event_timestamp, any label columns) come from a parquet path, a Spark
table or a SQL query (run as given). Each entity row comes out exactly once, in the order the
entities were read, with the service's features as of its event_timestamp.
"""

import logging
import os
import sys
import time

from pyspark.errors import PySparkException
from pyspark.sql import Observation, SparkSession
from pyspark.sql import functions as F

from trip_features.feature_lineage.run_events import job_run
from trip_features.runtime.errors import JobError
from trip_features.runtime.settings import Settings
from trip_features.storage.entity_rows import (
    SQL,
    check_output,
    mark_output,
    read_entities,
    spark_reason,
)

# Feast and the definitions (seconds of imports) are imported where used, so that a fresh
# process imports them while its JVM starts (main, trip_features.runtime.session.get_spark_while).

log = logging.getLogger("jobs.training_set")


class TrainingSetError(JobError):
    """The entities or the service cannot make a training set."""


def registered_service(conf: Settings, service: str):
    """The store and the registered feature service, or a TrainingSetError listing the known."""
    from definitions.feature_store import feature_store

    store = feature_store(conf)
    try:
        return store, store.get_feature_service(service)
    except Exception as err:
        known = sorted(s.name for s in store.list_feature_services())
        raise TrainingSetError(
            f"unknown feature service {service!r}: known are {known} (run jobs.register?)"
        ) from err


def small_inputs(conf: Settings, entities: str) -> bool:
    """Whether the entity rows and the feature tables are local files, small together
    (trip_features.runtime.input_size): the driver of a fresh process then starts for a short
    job."""
    from trip_features.runtime import input_size

    if conf.publication.kind != "files":  # tables by name
        return False
    features = conf.paths.features
    tables = [os.path.join(features, table) for table in conf.features.tables]
    return input_size.small_inputs(conf, [entities, *tables])


def run(
    spark: SparkSession,
    conf: Settings,
    entities: str,
    service: str,
    out: str,
    full_feature_names: bool = False,
    overwrite: bool = False,
) -> int:
    """Writes the training set; returns its row count (always the entity row count). `out` may
    be new, empty or an earlier training set; any other folder only with `overwrite`, and never
    an input of the job."""
    check_output(out, [entities, *_inputs(conf)], overwrite)
    store, feature_service = registered_service(conf, service)
    with job_run(conf, "training_set") as lineage:
        return _run(spark, conf, store, feature_service, entities, out, full_feature_names, lineage)


def _run(spark, conf, store, feature_service, entities, out, full_feature_names, lineage) -> int:
    """The run itself; `lineage` receives what it reads and writes."""
    from definitions.on_demand_views import ON_SPARK
    from trip_features.offline_store.spark_store import with_on_demand_features

    began = time.perf_counter()
    service = feature_service.name
    entity_rows = read_entities(spark, entities)
    try:
        entity_count = entity_rows.count()
    except Exception as err:
        raise TrainingSetError(
            f"the entity rows of {entities!r} fail: {spark_reason(err)}"
        ) from err
    if entity_count == 0:
        raise TrainingSetError(f"{entities!r} has no entity rows")
    job = store.get_historical_features(
        entity_df=entity_rows, features=feature_service, full_feature_names=full_feature_names
    )
    counted = Observation("training_set")
    try:  # small inputs are read as the frame is built (windows computed in the driver)
        frame = with_on_demand_features(job, ON_SPARK)
        frame = frame.observe(counted, F.count(F.lit(1)).alias("rows"))
        frame.write.mode("overwrite").parquet(out)
    except PySparkException as err:  # a query's own failure, raised as its rows are read
        raise TrainingSetError(
            f"the training set of {entities!r} failed: {spark_reason(err)}"
        ) from err
    rows = counted.get["rows"]
    log.info(
        "training set for %s: %d entity rows in, %d rows out to %s in %.1f s",
        service,
        entity_count,
        rows,
        out,
        time.perf_counter() - began,
    )
    if rows != entity_count:
        raise TrainingSetError(f"{rows} rows written for {entity_count} entity rows")
    lineage.inputs, lineage.outputs = training_set_lineage(
        conf, store, feature_service, entities, entity_rows.columns, out, frame, full_feature_names
    )
    lineage.outputs[0].rows = rows
    mark_output(out, service, rows)
    return rows


def _inputs(conf: Settings) -> list[str]:
    """What a training set must never be written over: conf's data, registry and stores."""
    keys = ("trips", "features", "registry", "online_store", "metastore", "lineage_events")
    return [getattr(conf.paths, k) for k in keys if getattr(conf.paths, k)]


def training_set_lineage(conf, store, service, entities, entity_columns, out, frame, full_names):
    """(inputs, [output]): the entity rows (unless a query), the views' tables, and the training
    set: entity columns from the entity rows, a snapshot feature from its table's column, a
    temporal window from its table's trips (their times and measure) at the row's time, and the
    request's calendar from the request time."""
    from feast import FeatureView

    from trip_features.feature_lineage import job_datasets
    from trip_features.offline_store.temporal_windows import TEMPORAL_TAG, plan_of_view

    entity_source = None if SQL.match(entities) else job_datasets.location_dataset(conf, entities)
    read_from: dict[str, str] = {}  # projection -> the view whose table it reads
    temporal: dict[str, dict] = {}
    for projection in service.feature_view_projections:
        view = store.registry.get_any_feature_view(projection.name, store.project, allow_cache=True)
        if TEMPORAL_TAG in view.tags:
            read_from[projection.name] = next(iter(view.source_feature_view_projections))
            temporal[projection.name] = plan_of_view(view)
        elif isinstance(view, FeatureView):
            read_from[projection.name] = projection.name
    sources = job_datasets.view_sources(store, sorted(set(read_from.values())), conf)
    columns: dict[str, list] = {}
    if entity_source is not None:
        columns |= {c: [(entity_source, c)] for c in entity_columns}
    for projection in service.feature_view_projections:
        for feature in projection.features:
            name = f"{projection.name}__{feature.name}" if full_names else feature.name
            if projection.name in temporal:
                table = sources[read_from[projection.name]]
                _, _, measure = temporal[projection.name][feature.name]
                read = [(table, "event_timestamp")] + ([(table, measure)] if measure else [])
                at = [(entity_source, "event_timestamp")] if entity_source is not None else []
                columns[name] = read + at
            elif projection.name in read_from:
                columns[name] = [(sources[projection.name], feature.name)]
            elif entity_source is not None:  # the request's calendar
                columns[name] = [(entity_source, "request_timestamp")]
    output = job_datasets.location_dataset(
        conf,
        out,
        fields=[(f.name, f.dataType.simpleString()) for f in frame.schema.fields],
        columns=columns,
    )
    inputs = ([entity_source] if entity_source else []) + list(sources.values())
    return inputs, [output]


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )
    from trip_features.runtime.session import get_spark_while

    parser = base_parser(__doc__)
    parser.add_argument("--entities", required=True, help="parquet path, Spark table or SQL query")
    parser.add_argument(
        "--service", required=True, help="feature service name, e.g. driver_activity_v1"
    )
    parser.add_argument(
        "--out", required=True, help="output parquet folder: new, empty or an earlier training set"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out even if other files are in it"
    )
    parser.add_argument(
        "--full-feature-names", action="store_true", help="prefix features with their view"
    )
    args = parser.parse_args(argv)
    configure_logging()

    def body():
        conf = load_from_args(args)
        out = os.path.abspath(args.out)
        check_output(out, [args.entities, *_inputs(conf)], args.overwrite)  # before the JVM
        # An unknown service is found while the JVM starts (the registry needs Feast's imports).
        spark, _ = get_spark_while(
            conf,
            lambda: registered_service(conf, args.service),
            small_input=small_inputs(conf, args.entities),
        )
        run(spark, conf, args.entities, args.service, out, args.full_feature_names, args.overwrite)

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
