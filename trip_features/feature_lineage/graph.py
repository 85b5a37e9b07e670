"""One lineage graph over the feature transforms and the Feast definitions.

Built from the Hamilton graphs of the same modules the jobs run: the transforms on each engine
(pandas: a node per trips column and per feature; Spark: the nodes the feature job runs; Python: the
bodies the on-demand view calls) and the definitions DAG, with the edges the definitions declare by
a `lineage_reads` tag (a source reads a published table; the on-demand view runs calendar nodes). A
name means one thing on every engine (see transforms/calendar_features.py), so the engines' graphs
are merged by name. Each node has a kind and a fingerprint of its code
(trip_features.feature_lineage.fingerprints): the functions behind it on every engine and what they
call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hamilton import driver
from hamilton.base import DictResult

from definitions.code_version_tag import CODE_VERSION_TAG
from transforms import calendar_features
from transforms.feature_catalogue import KEY_COLUMNS
from transforms.feature_dataflow import FEATURE_MODULES, TOP_LEVEL_ON
from transforms.feature_tables import TABLES
from transforms.trips_contract import TRIPS_COLUMNS
from trip_features.feature_lineage.fingerprints import digest, fingerprint
from trip_features.runtime.settings import FeatureSettings, Settings
from trip_features.storage import trips_reader

# What the project publishes: a node reaching none of these is unused. A registered view is asked
# for by reference too (driver_activity:trips_1h, each trip's own windows), not only in services.
OUTPUT_KINDS = ("service", "view")
# Nodes whose values the feature job publishes as tables (the quarantine under its own name).
PUBLISHED_TABLES = (*TABLES, "trips_quarantined")


class UnknownNodeError(ValueError):
    """A node name that is not in the lineage graph."""


@dataclass
class Node:
    """One node: what it is, the functions behind it, and their fingerprint."""

    name: str
    kind: str
    engines: set[str] = field(default_factory=set)
    functions: set[Any] = field(default_factory=set)
    feast_name: str | None = None
    description: str = ""
    code: str = ""  # fingerprint of the functions behind the node
    definition: str = ""  # a Feast object's definition, hashed (definition_hash below)

    def label(self) -> str:
        named = f" {self.feast_name}" if self.feast_name and self.feast_name != self.name else ""
        return f"{self.name} ({self.kind.replace('_', ' ')}{named})"


@dataclass
class LineageGraph:
    """Nodes by name and edges (dependency, dependent)."""

    nodes: dict[str, Node]
    edges: set[tuple[str, str]]

    def require(self, name: str) -> Node:
        if name not in self.nodes:
            import difflib

            close = difflib.get_close_matches(name, self.nodes, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownNodeError(
                f"{name!r} is not in the lineage graph{hint} (`python -m jobs.lineage nodes` "
                "lists every node)"
            )
        return self.nodes[name]

    def parents(self, name: str) -> list[str]:
        return sorted(a for a, b in self.edges if b == name)

    def children(self, name: str) -> list[str]:
        return sorted(b for a, b in self.edges if a == name)

    def upstream(self, name: str) -> set[str]:
        """Every node `name` depends on, directly or not."""
        return self._reach(name, self.parents)

    def downstream(self, name: str) -> set[str]:
        """Every node that depends on `name`, directly or not."""
        return self._reach(name, self.children)

    def _reach(self, name: str, step) -> set[str]:
        self.require(name)
        found, todo = set(), [name]
        while todo:
            for other in step(todo.pop()):
                if other not in found:
                    found.add(other)
                    todo.append(other)
        return found

    def paths(self, start: str, end: str, limit: int = 50) -> list[list[str]]:
        """The dependency paths from `start` down to `end` (at most `limit`), shortest first."""
        self.require(start), self.require(end)
        reaching = self.upstream(end) | {end}
        found: list[list[str]] = []

        def walk(path: list[str]) -> None:
            if len(found) >= limit:
                return
            if path[-1] == end:
                found.append(path)
                return
            for child in self.children(path[-1]):
                if child in reaching:
                    walk([*path, child])

        walk([start])
        return sorted(found, key=len)

    def unused(self) -> list[str]:
        """Nodes from which no feature service and no published table can be reached."""
        kept = {n for n, node in self.nodes.items() if node.kind in OUTPUT_KINDS}
        kept |= {t for t in PUBLISHED_TABLES if t in self.nodes}
        used = set(kept)
        for name in kept:
            used |= self.upstream(name)
        return sorted(set(self.nodes) - used)

    def of_kind(self, *kinds: str, among: Iterable[str] | None = None) -> list[str]:
        names = self.nodes if among is None else among
        return sorted(n for n in names if self.nodes[n].kind in kinds)

    def subgraph(self, names: Iterable[str]) -> LineageGraph:
        keep = set(names)
        return LineageGraph(
            {n: self.nodes[n] for n in keep},
            {(a, b) for a, b in self.edges if a in keep and b in keep},
        )


def _transform_drivers(features_conf: FeatureSettings, modules: list) -> dict:
    from transforms.feature_catalogue import Catalogue

    config = Catalogue.from_conf(features_conf).hamilton_config()
    extra = {"spark": [trips_reader], "pandas": []}
    drivers = {
        engine: driver.Builder()
        .with_modules(*FEATURE_MODULES, *TOP_LEVEL_ON[engine], *extra[engine], *modules)
        .with_config({"engine": engine, **config})
        .with_adapters(DictResult())
        .build()
        for engine in ("pandas", "spark")
    }
    drivers["python"] = (
        driver.Builder()
        .with_modules(calendar_features)
        .with_config({"engine": "python"})
        .with_adapters(DictResult())
        .build()
    )
    return drivers


def _kind(hamilton_node, name: str) -> str:
    if name == "trips_raw":
        return "input"
    if name in PUBLISHED_TABLES:
        return "table"
    if name in TRIPS_COLUMNS and hamilton_node.originating_functions:
        return "column"
    return _feast_kind(hamilton_node.type) or "transform"


def _feast_kind(node_type) -> str | None:
    if not isinstance(node_type, type) or not node_type.__module__.startswith("feast"):
        return None
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, RequestSource
    from feast.data_source import DataSource

    for cls, kind in (
        (OnDemandFeatureView, "on_demand_view"),
        (FeatureView, "view"),
        (FeatureService, "service"),
        (Entity, "entity"),
        (RequestSource, "request_source"),
        (DataSource, "source"),
    ):
        if issubclass(node_type, cls):
            return kind
    return None


def build_graph(
    conf: Settings, with_definitions: bool = True, extra_modules: tuple = ()
) -> LineageGraph:
    """The lineage graph of the code for `conf` (its feature catalogue and Feast settings);
    without the definitions (and Feast) when only the transforms matter."""
    modules = list(extra_modules)
    if with_definitions:
        from definitions.feast_dataflow import DEFINITION_MODULES

        modules += DEFINITION_MODULES
    nodes: dict[str, Node] = {}
    edges: set[tuple[str, str]] = set()
    reads: dict[str, list[str]] = {}
    for engine, dr in _transform_drivers(conf.features, modules).items():
        within = {n.name for n in dr.graph.nodes.values()}
        for hamilton_node in dr.graph.nodes.values():
            if hamilton_node.user_defined and hamilton_node.name != "trips_raw":
                continue  # configuration and session inputs, not data
            name, parent = _named(hamilton_node.name, within)
            node = nodes.get(name) or Node(name, _kind(hamilton_node, name))
            nodes[name] = node
            node.engines.add(engine)
            node.functions.update(hamilton_node.originating_functions or ())
            node.description = node.description or (hamilton_node.documentation or "").strip()
            if parent is not None:
                edges.add((name, parent))  # a column computed inside the table's with_columns
            for dependency in hamilton_node.input_types:
                if dr.graph.nodes[dependency].user_defined and dependency != "trips_raw":
                    continue
                source, source_parent = _named(dependency, within)
                if parent is None:
                    edges.add((source, name))
                elif source_parent != parent:  # inside with_columns, columns chain frames
                    edges.add((source, parent))
            listed = hamilton_node.tags.get("lineage_reads")
            if listed:
                reads[name] = [listed] if isinstance(listed, str) else list(listed)
    for name, read in reads.items():
        edges |= {(other, name) for other in read}
    # Every feature table carries the trips' key columns as they are.
    edges |= {(key, table) for key in KEY_COLUMNS for table in TABLES}
    if with_definitions:
        _name_feast_objects(conf, nodes)
    for node in nodes.values():
        node.code = fingerprint(sorted(node.functions, key=_qualified)) if node.functions else ""
    missing = sorted({n for edge in edges for n in edge} - set(nodes))
    if missing:
        raise ValueError(f"lineage edges name nodes that do not exist: {missing}")
    return LineageGraph(nodes, edges)


def _named(name: str, within: set[str]) -> tuple[str, str | None]:
    """(node name, the table it is computed inside) for with_columns' `table.column` nodes."""
    if "." in name:
        parent, column = name.split(".", 1)
        if parent in within:
            return column, parent
    return name, None


def _qualified(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _name_feast_objects(conf: Settings, nodes: dict[str, Node]) -> None:
    """The Feast name and description of each definitions node, from the objects the DAG builds
    for `conf`."""
    from definitions.feast_dataflow import build_definitions
    from definitions.serving_log import LogSettings
    from trip_features.offline_store.spark_store import quiet_feast_warnings

    quiet_feast_warnings()
    places = {conf.paths.features: "<paths.features>"}
    logged = LogSettings.from_conf(conf)
    if logged is not None:
        places[logged.path] = "<paths.serving_log>"
    for name, obj in build_definitions(conf).items():
        if name in nodes:
            nodes[name].feast_name = obj.name
            nodes[name].definition = definition_hash(obj, places)
            if nodes[name].kind in ("view", "source") and obj.description:
                # made per table of the catalogue: its table's declaration says what it holds
                nodes[name].description = obj.description


_VOLATILE = {"meta", "createdTimestamp", "lastUpdatedTimestamp", "body"}


def definition_hash(obj, places: dict[str, str]) -> str:
    """A Feast object's definition, hashed: its spec without registration times, the pickled bytes
    of an on-demand function (its source text stays), the code version tag (that is the table's, see
    trip_features.feature_lineage.code_versions) and the machine's folders (`places`: a path -> the
    name it is hashed as: the features folder, the serving log)."""
    import json

    from google.protobuf.json_format import MessageToDict

    proto = obj.to_proto()
    spec = MessageToDict(proto.spec if hasattr(proto, "spec") else proto)
    spec.get("tags", {}).pop(CODE_VERSION_TAG, None)
    text = json.dumps(_without_volatile(spec), sort_keys=True)
    for path, name in places.items():
        text = text.replace(path.rstrip("/"), name)
    return digest(text)


def _without_volatile(value):
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def column_lineage(graph: LineageGraph, table: str, columns: list[str]) -> dict[str, list[str]]:
    """For each column of a feature table, the trips columns its values are computed from."""
    lineage = {}
    for column in columns:
        if graph.nodes.get(column) is not None and graph.nodes[column].kind == "column":
            lineage[column] = [column]  # a key column, carried as it is
        elif column in graph.nodes:
            lineage[column] = graph.of_kind("column", among=graph.upstream(column))
        else:
            raise ValueError(f"{table}.{column} is not a node of the lineage graph")
    return lineage
