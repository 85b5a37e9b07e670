"""Output checks for Spark tables, in the spirit of Hamilton's `@check_output` (which does not
work on Spark): declared per feature in the catalogue (conf's `features.tables`), measured on the
rows the job wrote (from the staged files' footers: no extra pass) and judged before anything is
published. A failing `fail` check stops the publication.
"""

import math
from dataclasses import asdict, dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.feature_catalogue import Catalogue


@dataclass(frozen=True)
class Check:
    """What one column must satisfy; `importance` is 'warn' or 'fail'."""

    column: str
    dtype: str | None = None  # Spark's simpleString, e.g. "int", "double", "bigint"
    minimum: float | None = None
    maximum: float | None = None
    minimum_exclusive: bool = False
    allowed: tuple | None = None
    max_null_fraction: float = 0.0
    importance: str = "fail"

    def __post_init__(self):
        if self.importance not in ("warn", "fail"):
            raise ValueError(f"check of {self.column}: importance must be 'warn' or 'fail'")


@dataclass
class CheckResult:
    check: Check
    passed: bool
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**asdict(self.check), "passed": self.passed, "problems": self.problems}


# Every feature table holds one row per trip, keyed by its trip and driver.
KEY_CHECKS = (Check("trip_id", dtype="bigint"), Check("driver_id", dtype="bigint"))


def table_checks(catalogue: Catalogue, table: str) -> tuple[Check, ...]:
    """The checks of `table`: its keys', and each feature's type plus the checks the catalogue
    declares for it."""
    if table not in catalogue.tables:
        return ()
    declared = tuple(
        Check(f.name, dtype=f.dtype, **_as_check_arguments(f.checks))
        for f in catalogue.features(table)
    )
    return KEY_CHECKS + declared


def _as_check_arguments(checks: dict) -> dict:
    arguments = dict(checks)
    if arguments.get("allowed") is not None:
        arguments["allowed"] = tuple(arguments["allowed"])
    return arguments


def profile_metrics(schema: T.StructType, checks: tuple[Check, ...] = ()) -> list[Column]:
    """Aggregations giving rows, per column nulls, NaN, min and max, and per `allowed`
    check the values outside: all in one pass (an aggregation, or observed while writing)."""
    aggs = [F.count(F.lit(1)).alias("rows")]
    for name in schema.fieldNames():
        kind = schema[name].dataType.typeName()
        aggs.append(F.sum(F.col(name).isNull().cast("long")).alias(f"{name}__nulls"))
        if kind in ("double", "float"):
            aggs.append(F.sum(F.isnan(name).cast("long")).alias(f"{name}__nan"))
        if kind in _NUMERIC:
            aggs += [F.min(name).alias(f"{name}__min"), F.max(name).alias(f"{name}__max")]
    for check in checks:
        if check.allowed is not None and check.column in schema.fieldNames():
            outside = (
                ~F.col(check.column).isin(list(check.allowed)) & F.col(check.column).isNotNull()
            )
            aggs.append(F.sum(outside.cast("long")).alias(f"{check.column}__outside"))
    return aggs


def profile_from(schema: T.StructType, metrics: dict) -> dict:
    """The profile the metrics of `profile_metrics` describe."""
    rows = metrics["rows"]
    columns = {}
    for name in schema.fieldNames():
        nulls = metrics.get(f"{name}__nulls") or 0
        columns[name] = {
            "type": schema[name].dataType.simpleString(),
            "nulls": nulls,
            "null_fraction": nulls / rows if rows else 0.0,
            "min": _plain(metrics.get(f"{name}__min")),
            "max": _plain(metrics.get(f"{name}__max")),
        }
        if metrics.get(f"{name}__nan"):
            columns[name]["nan"] = True
        if f"{name}__outside" in metrics:
            columns[name]["outside_allowed"] = metrics[f"{name}__outside"] or 0
    return {"rows": rows, "columns": columns}


def profile(frame: DataFrame, checks: tuple[Check, ...] = ()) -> dict:
    """The profile of `frame`, by one aggregation."""
    row = frame.agg(*profile_metrics(frame.schema, checks)).first().asDict()
    return profile_from(frame.schema, row)


_NUMERIC = ("integer", "long", "double", "float", "short", "byte")


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate(checks: tuple[Check, ...], table_profile: dict) -> list[CheckResult]:
    """Judges the checks against a profile made with those checks."""
    results = []
    for check in checks:
        col = table_profile["columns"].get(check.column)
        problems = []
        if col is None:
            results.append(CheckResult(check, False, [f"column {check.column} is missing"]))
            continue
        if check.dtype and col["type"] != check.dtype:
            problems.append(f"type {col['type']}, expected {check.dtype}")
        if col.get("nan"):
            problems.append("NaN values: a missing value must be null")
        if col["null_fraction"] > check.max_null_fraction:
            problems.append(f"null fraction {col['null_fraction']:.4f} > {check.max_null_fraction}")
        low, high = col["min"], col["max"]
        if (
            check.minimum is not None
            and low is not None
            and (low < check.minimum or (check.minimum_exclusive and low <= check.minimum))
        ):
            problems.append(
                f"minimum {low} below {'or at ' if check.minimum_exclusive else ''}{check.minimum}"
            )
        if check.maximum is not None and high is not None and high > check.maximum:
            problems.append(f"maximum {high} above {check.maximum}")
        if check.allowed is not None and col.get("outside_allowed"):
            problems.append(f"{col['outside_allowed']} values outside {list(check.allowed)}")
        results.append(CheckResult(check, not problems, problems))
    return results
