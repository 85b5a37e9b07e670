"""Output checks for Spark DataFrames, in the spirit of Hamilton's `@check_output` (which does not
work on Spark): declared on the function that makes a table, evaluated by the job in one pass over
the written table before it is published. A failing `fail` check stops the publication.
"""

import math
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

SPARK_CHECKS: dict[str, tuple["Check", ...]] = {}


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


def check_spark_output(*checks: Check):
    """Declares the checks of the table a Hamilton function makes (its node name)."""

    def decorate(fn):
        SPARK_CHECKS[fn.__name__.split("__")[0]] = checks
        return fn

    return decorate


def profile(frame: DataFrame) -> dict:
    """Rows, and per column nulls (NaN included), min and max: one aggregation."""
    aggs = [F.count(F.lit(1)).alias("rows")]
    numeric = {
        f.name
        for f in frame.schema.fields
        if f.dataType.typeName() in ("integer", "long", "double", "float", "short", "byte")
    }
    for name in frame.columns:
        missing = F.col(name).isNull()
        if frame.schema[name].dataType.typeName() in ("double", "float"):
            missing = missing | F.isnan(name)
        aggs.append(F.sum(missing.cast("long")).alias(f"{name}__nulls"))
        if name in numeric:
            aggs += [F.min(name).alias(f"{name}__min"), F.max(name).alias(f"{name}__max")]
    row = frame.agg(*aggs).first().asDict()
    rows = row["rows"]
    columns = {}
    for name in frame.columns:
        nulls = row[f"{name}__nulls"] or 0
        columns[name] = {
            "type": frame.schema[name].dataType.simpleString(),
            "nulls": nulls,
            "null_fraction": nulls / rows if rows else 0.0,
            "min": _plain(row.get(f"{name}__min")),
            "max": _plain(row.get(f"{name}__max")),
        }
    return {"rows": rows, "columns": columns}


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate(
    frame: DataFrame,
    checks: tuple[Check, ...],
    table_profile: dict,
    allowed_counts: dict | None = None,
) -> list[CheckResult]:
    """Judges the checks against a profile of `frame` (and, for `allowed`, one more count)."""
    results = []
    for check in checks:
        col = table_profile["columns"].get(check.column)
        problems = []
        if col is None:
            results.append(CheckResult(check, False, [f"column {check.column} is missing"]))
            continue
        if check.dtype and col["type"] != check.dtype:
            problems.append(f"type {col['type']}, expected {check.dtype}")
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
        if check.allowed is not None:
            outside = frame.where(
                ~F.col(check.column).isin(list(check.allowed)) & F.col(check.column).isNotNull()
            ).count()
            if outside:
                problems.append(f"{outside} values outside {list(check.allowed)}")
        results.append(CheckResult(check, not problems, problems))
    return results
