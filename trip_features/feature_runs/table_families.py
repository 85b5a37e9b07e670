"""The feature dataflow of one run, table family by table family: computed by the Hamilton
driver, written to staging while the input counts are observed, profiled from the written files
and judged; Spark's read errors turned into what to fix."""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException, PythonException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType

from transforms.feature_catalogue import Catalogue
from transforms.feature_dataflow import build_driver, quality_inputs
from transforms.quality_rules import duplicate_rules_active
from trip_features.feature_lineage import code_versions
from trip_features.feature_runs.request import FeatureJobError, FeatureRequest
from trip_features.quality.checks import profile_from, table_checks
from trip_features.quality.footer_profile import profile_staged
from trip_features.quality.gate import (
    QUARANTINE_TABLE,
    gate_on_input,
    input_metrics,
    judge_table,
    take_input_counts,
)
from trip_features.quality.observed_inputs import OBSERVED, ObservedInputs
from trip_features.quality.quarantine_counts import reasons_by_date
from trip_features.runtime.faults import checkpoint
from trip_features.runtime.session import hamilton_adapters
from trip_features.runtime.settings import Settings
from trip_features.storage import trips_reader
from trip_features.storage.file_publication import StagedTable
from trip_features.storage.read_errors import explain_read_error, read_error_cause
from trip_features.storage.table_layout import PARTITION_COLUMN, write_by_date

log = logging.getLogger("trip_features.feature_runs")
UNDATED = "unknown"  # the quarantine's folder for rows without an event time


class TableFamilies:
    """The feature dataflow of one run: each table family (a table and what it needs) is asked
    of the Hamilton driver once, written to staging while its input counts are observed, profiled
    from the written files and judged."""

    def __init__(self, spark: SparkSession, conf: Settings, request: FeatureRequest, report):
        self.request, self.report = request, report
        self.rules = dict(conf.quality.rules)
        self.adapter = ObservedInputs(
            input_metrics(request.in_range()), duplicate_rules_active(self.rules)
        )
        self.catalogue = Catalogue.from_conf(conf.features)
        history = self.catalogue.history()
        adapters = (self.adapter, *hamilton_adapters(spark))
        self.hamilton = build_driver("spark", conf.features, (trips_reader,), adapters=adapters)
        upstream, _ = self.hamilton.graph.get_upstream_nodes([OBSERVED])
        self.adapter.compute_once({n.name for n in upstream if not n.user_defined})
        self.inputs = {
            "spark": spark,
            "trips_location": request.trips,
            "read_from": request.range_from - history if request.range_from else None,
            "read_until": request.range_until,
            **quality_inputs(conf.quality, request.started),
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
