"""The datasets each job reads and writes, as OpenLineage names them, with column lineage."""

from __future__ import annotations

from trip_features.feature_lineage.run_events import Dataset, path_dataset, table_dataset
from trip_features.runtime.locations import is_table_name
from trip_features.runtime.settings import Settings


def location_dataset(conf: Settings, location: str, **kwargs) -> Dataset:
    """A parquet folder (or URI) or, for a name without a path, a Spark table."""
    if is_table_name(location):
        return table_dataset(conf, location, **kwargs)
    return path_dataset(location, **kwargs)


def _fields(schema) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def feature_tables(conf, publisher, staged: dict, report, trips: Dataset) -> list[Dataset]:
    """The published tables of a feature run: schema, rows written, and for each column the
    trips columns it comes from (the lineage graph)."""
    from trip_features.feature_lineage.code_versions import transforms_graph
    from trip_features.feature_lineage.graph import column_lineage
    from trip_features.quality.gate import QUARANTINE_TABLE
    from trip_features.storage.table_layout import PARTITION_COLUMN

    graph = transforms_graph(conf)
    outputs = []
    for name, table in sorted(staged.items()):
        columns = [f.name for f in table.schema.fields]
        if name == QUARANTINE_TABLE:
            lineage = {c: [c] for c in columns if c in graph.nodes}
        else:
            lineage = column_lineage(graph, name, [c for c in columns if c != PARTITION_COLUMN])
            lineage[PARTITION_COLUMN] = ["event_timestamp"]  # the trip's UTC date
        outputs.append(
            location_dataset(
                conf,
                publisher.reader_location(name),
                fields=_fields(table.schema),
                columns={c: [(trips, i) for i in inputs] for c, inputs in lineage.items()},
                rows=report.rows_written.get(name),
            )
        )
    return outputs


def view_sources(store, view_names: list[str], conf: Settings) -> dict[str, Dataset]:
    """The table each feature view reads, by view name."""
    found = {}
    for name in view_names:
        source = store.get_feature_view(name).batch_source
        found[name] = (
            table_dataset(conf, source.table) if source.table else path_dataset(source.path)
        )
    return found


def online_view(conf: Settings, project: str, view) -> Dataset:
    """A feature view's rows in the online store."""
    if conf.feast.online_store.type == "redis":
        return Dataset("redis", f"{project}.{view.name}")
    return Dataset("sqlite", f"{conf.paths.online_store}#{project}_{view.name}")
