"""Change control: the committed snapshot of the lineage graph, and what differs from it.

trip_features/feature_lineage/snapshot.json holds every node (kind, code fingerprint, Feast
definition hash) and edge, for the `local` environment. A test compares it with the code: a
difference fails with what changed, every table, view and service downstream of it, and the command
that accepts it (`python -m jobs.lineage update`, which also regenerates docs/lineage.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from trip_features.feature_lineage.graph import LineageGraph

SNAPSHOT = Path(__file__).with_name("snapshot.json")
SNAPSHOT_ENV = "local"
UPDATE_COMMAND = "python -m jobs.lineage update"
AFFECTED_KINDS = ("table", "view", "on_demand_view", "service")


def snapshot_of(graph: LineageGraph) -> dict:
    nodes = {}
    for name in sorted(graph.nodes):
        node = graph.nodes[name]
        entry = {"kind": node.kind, "code": node.code}
        if node.definition:
            entry["definition"] = node.definition
        nodes[name] = entry
    edges = [f"{a} -> {b}" for a, b in sorted(graph.edges)]
    return {
        "about": f"The lineage graph of conf/{SNAPSHOT_ENV}; regenerate with `{UPDATE_COMMAND}`.",
        "nodes": nodes,
        "edges": edges,
    }


def snapshot_text(graph: LineageGraph) -> str:
    return json.dumps(snapshot_of(graph), indent=1, sort_keys=False) + "\n"


@dataclass
class SnapshotDiff:
    """What the code's graph changes against the snapshot."""

    lines: list[str] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # nodes whose values may change

    def __bool__(self) -> bool:
        return bool(self.lines)


def compare(graph: LineageGraph, committed: dict) -> SnapshotDiff:
    diff = SnapshotDiff()
    now = snapshot_of(graph)
    old_nodes, new_nodes = committed.get("nodes", {}), now["nodes"]
    for name in sorted(set(old_nodes) | set(new_nodes)):
        old, new = old_nodes.get(name), new_nodes.get(name)
        if old is None:
            diff.lines.append(f"+ node {name} ({new['kind']})")
            diff.touched.add(name)
        elif new is None:
            diff.lines.append(f"- node {name} ({old['kind']})")
        else:
            changed = [
                key for key in ("kind", "code", "definition") if old.get(key) != new.get(key)
            ]
            if changed:
                what = ", ".join(f"{k} {old.get(k) or '-'} -> {new.get(k) or '-'}" for k in changed)
                diff.lines.append(f"~ node {name}: {what}")
                diff.touched.add(name)
    old_edges, new_edges = set(committed.get("edges", [])), set(now["edges"])
    for edge in sorted(new_edges - old_edges):
        diff.lines.append(f"+ edge {edge}")
        diff.touched.add(edge.split(" -> ")[1])
    for edge in sorted(old_edges - new_edges):
        diff.lines.append(f"- edge {edge}")
        target = edge.split(" -> ")[1]
        if target in graph.nodes:
            diff.touched.add(target)
    return diff


def affected(graph: LineageGraph, touched: set[str]) -> dict[str, list[str]]:
    """The tables, views and services downstream of the touched nodes (themselves included)."""
    reached = set()
    for name in touched:
        if name in graph.nodes:
            reached |= {name} | graph.downstream(name)
    return {kind: graph.of_kind(kind, among=reached) for kind in AFFECTED_KINDS}


def explain(graph: LineageGraph, diff: SnapshotDiff) -> str:
    """The message a failing check prints: the changes, what they reach, how to accept them."""
    reach = affected(graph, diff.touched)
    count = f"{len(diff.lines)} change{'s' if len(diff.lines) != 1 else ''}"
    lines = [f"The lineage graph differs from {SNAPSHOT.name} ({count}):"]
    lines += [f"  {line}" for line in diff.lines]
    lines.append("Downstream of the change:")
    for kind in AFFECTED_KINDS:
        names = reach[kind]
        lines.append(f"  {kind.replace('_', ' ')}s: {', '.join(names) if names else 'none'}")
    lines.append(
        f"If the change is intended, run `{UPDATE_COMMAND}` (rewrites trip_features/feature_lineage/snapshot.json and "
        "docs/lineage.md), review the diff and commit both; jobs.pipeline recomputes the "
        "changed tables and refreshes their online rows."
    )
    return "\n".join(lines)


def read_snapshot(path: Path = SNAPSHOT) -> dict:
    if not path.exists():
        return {"nodes": {}, "edges": []}
    return json.loads(path.read_text())
