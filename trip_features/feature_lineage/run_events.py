"""OpenLineage run events of every job: what it read, what it wrote, and which input columns
each written column comes from, for Marquez, DataHub or a catalog to show.

Each job run emits START, then COMPLETE (with row counts) or FAIL (with the error). Where the
events go is conf's `lineage:` section: `file` (the default: one JSON event per line in
paths.lineage_events), `console` (the log), `http` (POSTed to `lineage.url`) or `none`. A job
run inside another (the pipeline's stages) names it as its parent run. Column lineage of the
feature tables comes from the lineage graph (trip_features.feature_lineage.graph.column_lineage).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trip_features.runtime.locations import is_local, is_uri
from trip_features.runtime.settings import Settings

log = logging.getLogger(__name__)
PRODUCER = "https://github.com/trip-features/trip-features"
_parent: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "lineage_parent", default=None
)


@dataclass
class Dataset:
    """A dataset a job reads or writes; `columns`: output column -> (dataset, column) inputs."""

    namespace: str
    name: str
    fields: list[tuple[str, str]] | None = None  # (column, type)
    columns: dict[str, list[tuple[Dataset, str]]] | None = None
    rows: int | None = None


@dataclass
class JobRun:
    """A running job's datasets: a job adds outputs (and their row counts) as it learns them."""

    inputs: list[Dataset] = field(default_factory=list)
    outputs: list[Dataset] = field(default_factory=list)
    facets: dict[str, dict[str, Any]] = field(default_factory=dict)  # run facets of the job's own


def path_dataset(path: str, **kwargs) -> Dataset:
    """A dataset at a filesystem path or URI (OpenLineage naming: scheme as namespace)."""
    if is_uri(path):
        scheme, rest = path.split("://", 1)
        authority, _, name = rest.partition("/")
        return Dataset(f"{scheme}://{authority}", f"/{name}", **kwargs)
    return Dataset("file", str(path), **kwargs)


def table_dataset(conf: Settings, table: str, **kwargs) -> Dataset:
    """A Spark catalog table (schema.table)."""
    return Dataset(conf.lineage.table_namespace, table, **kwargs)


def client_for(conf: Settings):
    """The OpenLineage client conf asks for, or None for `transport: none`."""
    section = conf.lineage
    kind = section.transport
    if kind == "none":
        return None
    from openlineage.client import OpenLineageClient

    if kind == "file":
        import os

        path = conf.paths.lineage_events
        if is_local(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        transport = {"type": "file", "log_file_path": path, "append": True}
    elif kind == "console":
        transport = {"type": "console"}
    else:
        # Two quick retries: a lineage server that is down costs a job about a second per event.
        retry = {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.2}
        transport = {"type": "http", "url": section.url, "timeout": 5, "retry": retry}
    return OpenLineageClient(config={"transport": transport})


@contextmanager
def job_run(conf: Settings, job: str, inputs: list[Dataset] | None = None) -> Iterator[JobRun]:
    """Emits START, runs the body, then COMPLETE with the outputs it set, or FAIL. Emitting
    never fails a job: an unreachable endpoint is logged, and the job goes on."""
    from openlineage.client.uuid import generate_new_uuid

    client = client_for(conf)
    record = JobRun(inputs=list(inputs or []))
    run_id = str(generate_new_uuid())
    namespace = conf.lineage.namespace
    token = _parent.set((run_id, f"{namespace}/{job}"))
    parent = _parent_of(token)
    _emit(client, "START", run_id, namespace, job, record, parent)
    try:
        yield record
    except BaseException as err:
        _emit(client, "FAIL", run_id, namespace, job, record, parent, error=err)
        raise
    else:
        _emit(client, "COMPLETE", run_id, namespace, job, record, parent)
    finally:
        _parent.reset(token)


def _parent_of(token) -> tuple[str, str] | None:
    previous = token.old_value
    return None if previous is contextvars.Token.MISSING else previous


def _emit(client, state, run_id, namespace, job, record: JobRun, parent, error=None) -> None:
    if client is None:
        return
    try:
        client.emit(_event(state, run_id, namespace, job, record, parent, error))
    except Exception as err:  # lineage is an observer: it never fails the job it observes
        log.warning("OpenLineage %s event of %s not emitted: %s", state, job, err)


def _event(state, run_id, namespace, job, record: JobRun, parent, error):
    import datetime as dt

    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import RunFacet, error_message_run, job_type_job, parent_run

    run_facets: dict[str, Any] = {}
    if parent is not None:
        parent_id, parent_job = parent
        parent_namespace, parent_name = parent_job.split("/", 1)
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_id),
            job=parent_run.Job(namespace=parent_namespace, name=parent_name),
        )
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=str(error).splitlines()[0] if str(error) else repr(error),
            programmingLanguage="python",
        )
    for name, fields in record.facets.items():  # e.g. the consistency replay's counts
        run_facets[name] = RunFacet(producer=PRODUCER).with_additional_properties(**fields)
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="TRIP_FEATURES", jobType="JOB"
        )
    }
    return RunEvent(
        eventType=getattr(RunState, state),
        eventTime=dt.datetime.now(dt.UTC).isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(namespace=namespace, name=job, facets=job_facets),
        producer=PRODUCER,
        inputs=[
            InputDataset(namespace=d.namespace, name=d.name, facets=_facets(d, False))
            for d in record.inputs
        ],
        outputs=[
            OutputDataset(
                namespace=d.namespace,
                name=d.name,
                facets=_facets(d, True),
                outputFacets=_output_facets(d, state),
            )
            for d in record.outputs
        ],
    )


def _facets(dataset: Dataset, output: bool) -> dict[str, Any]:
    from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset

    facets: dict[str, Any] = {}
    if dataset.fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in dataset.fields
            ]
        )
    if output and dataset.columns:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(
                            namespace=source.namespace,
                            name=source.name,
                            field=input_column,
                            transformations=[_transformation(column, inputs)],
                        )
                        for source, input_column in inputs
                    ]
                )
                for column, inputs in sorted(dataset.columns.items())
            }
        )
    return facets


def _transformation(column: str, inputs: list):
    """IDENTITY for a column carried as it is, else a TRANSFORMATION of its inputs."""
    from openlineage.client.facet_v2 import column_lineage_dataset

    carried = len(inputs) == 1 and inputs[0][1] == column
    return column_lineage_dataset.Transformation(
        type="DIRECT", subtype="IDENTITY" if carried else "TRANSFORMATION"
    )


def _output_facets(dataset: Dataset, state: str) -> dict[str, Any]:
    if state != "COMPLETE" or dataset.rows is None:
        return {}
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    return {"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=dataset.rows)}
