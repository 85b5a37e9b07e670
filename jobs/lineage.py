"""Questions about the lineage graph, its picture, and change control against its snapshot.

    python -m jobs.lineage upstream driver_trips_v1      # what a service is made of
    python -m jobs.lineage downstream trip_dist          # what a column reaches
    python -m jobs.lineage path trip_dist driver_activity_v1
    python -m jobs.lineage unused                        # transforms and columns no service uses
    python -m jobs.lineage nodes                         # every node, its kind and code hash
    python -m jobs.lineage graph --format svg --output lineage.svg
    python -m jobs.lineage check                         # the code against the committed snapshot
    python -m jobs.lineage update                        # rewrite the snapshot and docs/lineage.md

--format text (trees, the default), mermaid, dot, or svg/png (Graphviz's `dot` program).
"""

from __future__ import annotations

import sys
from pathlib import Path

COMMANDS = ("upstream", "downstream", "path", "unused", "nodes", "graph", "check", "update")


def answer(graph, command: str, names: list[str], fmt: str) -> str | bytes:
    """The text (or picture bytes) a command prints."""
    from trip_features.feature_lineage import render

    if command in ("upstream", "downstream"):
        (name,) = names
        reached = getattr(graph, command)(name) | {name}
        return render.tree(graph, name, command) if fmt == "text" else _drawn(graph, reached, fmt)
    if command == "path":
        start, end = names
        paths = graph.paths(start, end)
        if not paths:
            return f"no path from {start} to {end}: {end} does not depend on {start}"
        if fmt != "text":
            return _drawn(graph, {n for p in paths for n in p}, fmt)
        return "\n".join(" -> ".join(p) for p in paths)
    if command == "unused":
        unused = graph.unused()
        if fmt != "text":
            return _drawn(graph, unused, fmt)
        lines = [f"{graph.nodes[n].label()}" for n in unused]
        return "\n".join(lines) if lines else "every node reaches a feature service or a table"
    if command == "nodes":
        rows = [f"{'node':<28} {'kind':<15} {'code':<13} engines"]
        for name in sorted(graph.nodes, key=lambda n: (graph.nodes[n].kind, n)):
            node = graph.nodes[name]
            engines = ",".join(sorted(node.engines))
            rows.append(f"{name:<28} {node.kind:<15} {node.code or '-':<13} {engines}")
        return "\n".join(rows)
    if command == "graph":
        if fmt == "text":
            return "\n\n".join(render.tree(graph, s, "upstream") for s in graph.of_kind("service"))
        return _drawn(graph, graph.nodes, fmt)
    raise ValueError(f"unknown command {command!r}")


def _drawn(graph, names, fmt: str) -> str | bytes:
    from trip_features.feature_lineage import render

    selection = graph.subgraph(names)
    if fmt == "mermaid":
        return render.mermaid(selection)
    if fmt == "dot":
        return render.dot(selection)
    return render.picture(selection, fmt)


def check_or_update(conf, update: bool) -> tuple[int, str]:
    """(exit code, message) of `check` or `update`."""
    from transforms.feature_catalogue import Catalogue
    from trip_features.feature_lineage.docs_page import PAGE, lineage_page
    from trip_features.feature_lineage.graph import build_graph
    from trip_features.feature_lineage.snapshot import (
        SNAPSHOT,
        compare,
        explain,
        read_snapshot,
        snapshot_text,
    )

    graph = build_graph(conf)
    page = lineage_page(graph, Catalogue.from_conf(conf.features))
    if update:
        SNAPSHOT.write_text(snapshot_text(graph))
        PAGE.write_text(page)
        return 0, f"wrote {SNAPSHOT} and {PAGE}"
    diff = compare(graph, read_snapshot(SNAPSHOT))
    if diff:
        return 1, explain(graph, diff)
    if not PAGE.exists() or PAGE.read_text() != page:
        return 1, f"{PAGE} is stale: run `python -m jobs.lineage update` and commit it"
    return 0, f"the code's lineage graph equals {SNAPSHOT.name} ({len(graph.nodes)} nodes)"


def main(argv: list[str] | None = None) -> int:
    from trip_features.feature_lineage.render import FORMATS
    from trip_features.runtime.command_line import answered, base_parser, load_from_args

    parser = base_parser(__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("names", nargs="*", help="NODE for upstream/downstream, FROM TO for path")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", help="write here instead of printing (svg and png need it)")
    args = parser.parse_args(argv)
    wanted = {"upstream": 1, "downstream": 1, "path": 2}.get(args.command, 0)
    if len(args.names) != wanted:
        parser.error(f"{args.command} takes {wanted} node name(s), not {len(args.names)}")
    if args.format in ("svg", "png") and not args.output:
        parser.error(f"--format {args.format} writes a picture: give --output FILE")

    outcome = {"code": 0}

    def body() -> None:
        from trip_features.feature_lineage.snapshot import SNAPSHOT_ENV
        from trip_features.runtime.config import load_config

        if args.command in ("check", "update"):
            code, message = check_or_update(load_config(SNAPSHOT_ENV, []), args.command == "update")
            print(message)
            outcome["code"] = code
            return
        from trip_features.feature_lineage.graph import build_graph

        result = answer(build_graph(load_from_args(args)), args.command, args.names, args.format)
        if args.output:
            data = result if isinstance(result, bytes) else result.encode() + b"\n"
            Path(args.output).write_bytes(data)
            print(f"wrote {args.output}")
        else:
            print(result)

    return answered(body) or outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
