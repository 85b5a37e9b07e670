"""docs/lineage.md, generated from the code by `python -m jobs.lineage update`."""

from __future__ import annotations

from pathlib import Path

from transforms.feature_catalogue import Catalogue
from trip_features.feature_lineage.graph import LineageGraph, column_lineage
from trip_features.feature_lineage.render import mermaid, tree
from trip_features.feature_lineage.snapshot import UPDATE_COMMAND, compare, explain, snapshot_of

PAGE = Path(__file__).resolve().parents[2] / "docs" / "lineage.md"


def lineage_page(graph: LineageGraph, catalogue: Catalogue) -> str:
    services = graph.of_kind("service")
    parts = [
        "# Lineage",
        "",
        f"Generated from the code by `{UPDATE_COMMAND}` (conf/local); "
        "`tests/feature_lineage/test_snapshot.py` fails when this page or `trip_features/feature_lineage/snapshot.json` is "
        "stale. One graph runs from the trips columns through every transform (pandas, Spark "
        "and Python bodies, merged by node name) to the published tables, the Feast sources, "
        "views and on-demand views, and the feature services (`trip_features/feature_lineage/graph.py`). Ask it "
        "yourself: `python -m jobs.lineage upstream NODE`, `downstream NODE`, `path FROM TO`, "
        "`unused`, `nodes`; `--format mermaid|dot|svg|png` draws the selection.",
        "",
        "Three things are built on the graph (each section below says how):",
        "",
        "- **Change control in CI**: `trip_features/feature_lineage/snapshot.json` holds every node (kind, a fingerprint "
        "of its code, a hash of its Feast definition) and edge. A test fails when the code's graph "
        "differs, naming what changed and every table, view and service downstream of it; "
        f"`{UPDATE_COMMAND}` accepts the change (and rewrites this page).",
        "- **Recompute and purge on change**: every published date of a feature table records the "
        "code version that made it, and the table's feature view carries it as its `code_version` "
        "tag; `jobs.pipeline` recomputes exactly the tables whose code changed, re-registers them, "
        "purges their online rows and materializes them again, and leaves the others alone.",
        "- **Run events**: every job emits OpenLineage events with its inputs, outputs, row counts "
        "and the column lineage below (conf `lineage:`).",
        "",
        "## The whole graph",
        "",
        "```mermaid",
        mermaid(graph),
        "```",
        "",
        "## Feature services, down to the trips",
        "",
    ]
    for service in services:
        parts += [f"### {service}", "", "```text", tree(graph, service, "upstream"), "```", ""]
    parts += [
        "## Column lineage of the feature tables",
        "",
        "Each column of a published table and the trips columns its values come from (also in "
        "the OpenLineage events of every feature run).",
        "",
        "| table | column | trips columns |",
        "| --- | --- | --- |",
    ]
    for table in catalogue.tables:
        for column, inputs in column_lineage(graph, table, catalogue.columns(table)).items():
            parts.append(f"| {table} | `{column}` | {', '.join(inputs)} |")
    parts += CHANGE_CONTROL[:-_RECOMPUTE] + ["```text", _example_check(graph), "```", ""]
    parts += CHANGE_CONTROL[-_RECOMPUTE:]
    unused = graph.unused()
    parts += [
        "",
        "## Unused",
        "",
        "Nodes that reach no feature service and no published table "
        "(`python -m jobs.lineage unused`):",
        "",
        *([f"- `{name}` ({graph.nodes[name].kind})" for name in unused] or ["- none"]),
        "",
    ]
    return "\n".join(parts)


def _example_check(graph: LineageGraph) -> str:
    edited = snapshot_of(graph)
    edited["nodes"]["driver_windowed"]["code"] = "0" * 12
    return explain(graph, compare(graph, edited))


CHANGE_CONTROL = [
    "",
    "## Change control",
    "",
    "A node's fingerprint (`trip_features/feature_lineage/fingerprints.py`) hashes the syntax tree of every function "
    "behind it on every engine, without docstrings, comments or layout, with the project's "
    "helpers they call (followed to the end: the compiled kernels too) and the constants they "
    "read. So a reformatted file or a corrected docstring changes nothing, and an edited kernel "
    "three calls below a node changes that node and everything downstream of it. A Feast "
    "object's definition hash covers its spec without registration times. "
    "`python -m jobs.lineage check` prints, for example when `driver_windowed`'s code differs "
    "from the snapshot's (generated here from a snapshot whose hash for it is zeros):",
    "",
    "## Recompute and purge on change",
    "",
    "A table's code version (`trip_features/feature_lineage/code_versions.py`) hashes the fingerprints of every node "
    "upstream of it, the catalogue's declaration of its features and the quality settings. "
    "`jobs.compute_features` writes it into each date folder it publishes (`_code_version`; Spark "
    "and Feast skip files named `_*`, and both publications keep a date's files together), so a "
    "table made of dates from different code reads as `mixed`. `jobs.register` tags each feature "
    "view with the code version of its published table. Then `jobs.pipeline`:",
    "",
    "1. recomputes the tables whose published version differs from the code's (all of them when "
    "it generates new trips), and no other;",
    "2. registers (the changed views get their new tag);",
    "3. purges the online rows of the views whose tag changed (or that were never "
    "materialized), so nothing computed by the old code is served, and Redis, which keeps a row "
    "unless the new one is newer, takes the new rows;",
    "4. materializes those views only.",
    "",
    "Its summary says which tables were up to date and which views were refreshed. "
    "`jobs.compute_features` logs a code change against the published table (and warns that a "
    "partial `--start/--end` leaves the other dates from the old code); `jobs.materialize` warns "
    "about views whose tables other code made. `tests/feature_lineage/test_recompute_on_change.py` edits "
    "a Spark transform in a copy of the project and runs the pipeline three times.",
    "",
    "## Run events (OpenLineage)",
    "",
    "Every job run (generate, compute, register, training set, materialize; the pipeline as the "
    "parent of its stages) emits START and COMPLETE or FAIL events with the `openlineage-python` "
    "client: input and output datasets, their schemas, rows written, and column lineage (a "
    "feature column and the trips columns it comes from; a training set column and the table "
    "column it was joined from). Where they go is conf's `lineage:` section: `transport: file` "
    "(default: one JSON event per line in `paths.lineage_events`: `data/lineage/events.jsonl`, or "
    "`$TRIP_FEATURES_LINEAGE_EVENTS` when set), "
    "`console`, `http` with `url` (Marquez: `--set lineage.transport=http --set "
    "lineage.url=http://localhost:5000`), or `none`. An endpoint that is down is logged and "
    "never fails a job.",
]
_RECOMPUTE = CHANGE_CONTROL[::-1].index("## Recompute and purge on change") + 1
