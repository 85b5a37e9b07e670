"""docs/lineage.md, generated from the code by `python -m jobs.lineage update`."""

from __future__ import annotations

from pathlib import Path

from lineage.graph import LineageGraph, column_lineage
from lineage.render import mermaid, tree
from lineage.snapshot import UPDATE_COMMAND
from transforms.catalogue import Catalogue

PAGE = Path(__file__).resolve().parent.parent / "docs" / "lineage.md"


def lineage_page(graph: LineageGraph, catalogue: Catalogue) -> str:
    services = graph.of_kind("service")
    parts = [
        "# Lineage",
        "",
        f"Generated from the code by `{UPDATE_COMMAND}` (conf/local); "
        "`tests/lineage/test_snapshot.py` fails when this page or `lineage/snapshot.json` is "
        "stale. One graph runs from the trips columns through every transform (pandas, Spark "
        "and Python bodies, merged by node name) to the published tables, the Feast sources, "
        "views and on-demand views, and the feature services (`lineage/graph.py`). Ask it "
        "yourself: `python -m jobs.lineage upstream NODE`, `downstream NODE`, `path FROM TO`, "
        "`unused`, `nodes`; `--format mermaid|dot|svg|png` draws the selection.",
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
