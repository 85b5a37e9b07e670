"""A feature run: computes the feature tables (all by default) for trips dated [start, end],
checks them and publishes them with the quarantined rows, all at once or none, and writes the
quality report either way. What `jobs.compute_features`, `jobs.pipeline`, notebooks and
benchmarks call."""

from __future__ import annotations

import logging
import time

from pyspark.sql import SparkSession

from trip_features.feature_lineage import code_versions, job_datasets
from trip_features.feature_lineage.run_events import job_run
from trip_features.feature_runs.request import FeatureRequest
from trip_features.feature_runs.table_families import TableFamilies
from trip_features.quality.gate import QUARANTINE_TABLE, FeatureRun
from trip_features.quality.report import write_quality_report
from trip_features.runtime.faults import checkpoint
from trip_features.runtime.session import REQUIRED_RUNTIME_CONF, own_session
from trip_features.runtime.settings import Settings
from trip_features.storage.publishers import publisher_for

log = logging.getLogger("trip_features.feature_runs")

# Settings the job's own session needs to be correct; the caller's session keeps its own.
JOB_SETTINGS = {
    **REQUIRED_RUNTIME_CONF,  # UTC
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # grouping 1e7 mostly unique trip ids gains nothing from a pre-shuffle partial aggregation
    "spark.sql.execution.bypassPartialAggregation": "true",
}


def run(
    spark: SparkSession,
    conf: Settings,
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


def _code_versions(spark: SparkSession, conf: Settings, request: FeatureRequest) -> dict[str, str]:
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
