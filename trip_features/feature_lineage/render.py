"""Pictures and trees of the lineage graph: text, mermaid (renders on code hosting sites), dot,
and svg or png through Graphviz's `dot` program when it is installed."""

from __future__ import annotations

import shutil
import subprocess

from trip_features.feature_lineage.graph import LineageGraph
from trip_features.runtime.errors import JobError

FORMATS = ("text", "mermaid", "dot", "svg", "png")
_MERMAID_SHAPES = {
    "input": ("[(", ")]"),
    "column": ("([", "])"),
    "transform": ("[", "]"),
    "table": ("[(", ")]"),
    "entity": ("((", "))"),
    "source": ("[/", "/]"),
    "request_source": ("[/", "/]"),
    "view": ("{{", "}}"),
    "on_demand_view": ("{{", "}}"),
    "service": ("[[", "]]"),
}
_DOT_SHAPES = {
    "input": "cylinder",
    "column": "ellipse",
    "transform": "box",
    "table": "cylinder",
    "entity": "circle",
    "source": "parallelogram",
    "request_source": "parallelogram",
    "view": "hexagon",
    "on_demand_view": "hexagon",
    "service": "doubleoctagon",
}


class RenderError(JobError):
    """A picture cannot be made here."""


def tree(graph: LineageGraph, root: str, direction: str) -> str:
    """`root` and what it depends on (direction 'upstream') or what depends on it
    ('downstream'), as an indented tree; a node met again is not expanded twice."""
    step = graph.parents if direction == "upstream" else graph.children
    lines = [graph.require(root).label()]
    shown: set[str] = {root}

    def branch(name: str, prefix: str) -> None:
        below = step(name)
        for i, other in enumerate(below):
            last = i == len(below) - 1
            again = other in shown and step(other)
            mark = " (see above)" if again else ""
            lines.append(f"{prefix}{'└── ' if last else '├── '}{graph.nodes[other].label()}{mark}")
            if not again:
                shown.add(other)
                branch(other, prefix + ("    " if last else "│   "))

    branch(root, "")
    return "\n".join(lines)


def mermaid(graph: LineageGraph) -> str:
    lines = ["flowchart LR"]
    for name in sorted(graph.nodes):
        node = graph.nodes[name]
        opening, closing = _MERMAID_SHAPES[node.kind]
        lines.append(f'    {name}{opening}"{node.label()}"{closing}')
    lines += [f"    {a} --> {b}" for a, b in sorted(graph.edges)]
    return "\n".join(lines)


def dot(graph: LineageGraph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for name in sorted(graph.nodes):
        node = graph.nodes[name]
        lines.append(f'  "{name}" [label="{node.label()}", shape={_DOT_SHAPES[node.kind]}];')
    lines += [f'  "{a}" -> "{b}";' for a, b in sorted(graph.edges)]
    lines.append("}")
    return "\n".join(lines)


def picture(graph: LineageGraph, kind: str) -> bytes:
    """The graph drawn by Graphviz as svg or png."""
    program = shutil.which("dot")
    if program is None:
        raise RenderError(
            f"--format {kind} needs Graphviz's `dot` program, which is not installed: install it "
            "(apt-get install graphviz, brew install graphviz), or use --format mermaid, dot or "
            "text, which need nothing"
        )
    done = subprocess.run(
        [program, f"-T{kind}"], input=dot(graph).encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RenderError(f"dot failed: {done.stderr.decode().strip()[:500]}")
    return done.stdout
