"""Runs a Databricks notebook in source format cell by cell, as Databricks would: `spark`,
`dbutils.widgets` (values given by the caller, else the widget's default) and `display` are
ambient; markdown cells are skipped; any other magic (%pip, %sql, %run) fails the run, since
the notebooks must work from the wheel alone.

    python -m tests.databricks.notebook_runner --remote sc://... --widgets '{"env": "local"}' NB...

prints what each notebook displayed, as JSON (for a Connect session in a process of its own).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = "\n# COMMAND ----------\n"


@dataclass
class Cell:
    kind: str  # "python", or the magic: "md", "pip", "sql", ...
    source: str


def cells(path: Path) -> list[Cell]:
    text = path.read_text()
    if not text.startswith(HEADER + "\n"):
        raise ValueError(f"{path} does not start with {HEADER!r}")
    found = []
    for chunk in text[len(HEADER) + 1 :].split(SEPARATOR):
        lines = [line for line in chunk.strip("\n").splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith("# MAGIC") for line in lines):
            magic = lines[0].removeprefix("# MAGIC").strip()
            kind = magic.split()[0].lstrip("%") if magic.startswith("%") else "md"
            found.append(Cell(kind, "\n".join(line.removeprefix("# MAGIC ") for line in lines)))
        else:
            found.append(Cell("python", chunk.strip("\n")))
    return found


class Widgets:
    """dbutils.widgets: definitions keep their defaults unless the caller gave a value."""

    def __init__(self, values: dict[str, str]):
        self.values, self.defined = dict(values), {}

    def text(self, name: str, default: str, label: str | None = None) -> None:
        self.defined[name] = default

    def dropdown(self, name: str, default: str, choices: list[str], label: str | None = None):
        if default not in choices:
            raise ValueError(f"widget {name}: default {default!r} is not one of {choices}")
        self.defined[name] = default

    def get(self, name: str) -> str:
        if name not in self.defined:
            raise ValueError(f"widget {name!r} is read before it is defined")
        return str(self.values.get(name, self.defined[name]))

    getArgument = get  # noqa: N815 - dbutils' own name


@dataclass
class DBUtils:
    widgets: Widgets


@dataclass
class Run:
    displayed: list[Any] = field(default_factory=list)
    namespace: dict[str, Any] = field(default_factory=dict)


def run_notebook(path: Path, spark, widgets: dict[str, str] | None = None) -> Run:
    """Executes every python cell in order in one namespace; returns what it displayed."""
    run = Run()
    run.namespace.update(
        spark=spark, dbutils=DBUtils(Widgets(widgets or {})), display=run.displayed.append
    )
    for number, cell in enumerate(cells(path), 1):
        if cell.kind == "md":
            continue
        if cell.kind != "python":
            raise ValueError(f"{path.name} cell {number}: %{cell.kind} cannot run from the wheel")
        code = compile(cell.source, f"{path.name}[cell {number}]", "exec")
        exec(code, run.namespace)
    return run


def as_rows(shown: Any) -> list[dict]:
    """A displayed Spark or pandas frame as JSON-ready rows."""
    frame = shown.toPandas() if hasattr(shown, "toPandas") else shown
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote", required=True)
    parser.add_argument("--widgets", default="{}", help="JSON: notebook -> widget values")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    from trip_features.runtime.session import ship_project

    spark = SparkSession.builder.remote(args.remote).getOrCreate()
    ship_project(spark)
    widgets = json.loads(args.widgets)
    shown = {}
    for notebook in args.notebooks:
        run = run_notebook(notebook, spark, widgets.get(notebook.name, {}))
        shown[notebook.name] = [as_rows(d) for d in run.displayed]
    print(json.dumps(shown))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
