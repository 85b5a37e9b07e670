"""Profiles a staged table from its parquet footers: rows, nulls, min and max per column.

Spark writes these statistics into every file it writes, so the checks judge exactly what was
written without reading it back. A NaN shows up as a NaN maximum (Java orders NaN last): the
profile then says so, and a check of that column fails, since missing values must be null here.
Where the footers cannot decide (statistics absent, an `allowed` set the range does not settle),
Spark reads the staged files once instead.
"""

import math
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from trip_features.quality.checks import Check, profile, profile_from
from trip_features.storage.table_layout import PART_FILE


def profile_staged(
    spark: SparkSession, staged: Path, schema: T.StructType, checks: tuple[Check, ...] = ()
) -> dict:
    """The profile `trip_features.quality.checks.profile` would give for the staged files."""
    files = sorted(staged.glob(f"*/{PART_FILE}"))
    if not files:
        return profile_from(schema, {"rows": 0})
    metrics = _footer_metrics(files, schema)
    if metrics is None or not _allowed_settled(metrics, checks):
        return profile(spark.read.schema(schema).parquet(*[str(f) for f in files]), checks)
    for check in checks:
        if check.allowed is not None and check.column in schema.names:
            metrics[f"{check.column}__outside"] = 0
    return profile_from(schema, metrics)


def _footer_metrics(files: list[Path], schema: T.StructType) -> dict | None:
    """The metrics of `trip_features.quality.checks.profile_metrics`, from the footers; None if they
    lack any."""
    metrics = {"rows": 0} | {f"{name}__nulls": 0 for name in schema.names}
    numeric = {f.name for f in schema.fields if f.dataType.typeName() in _NUMERIC}
    for path in files:
        meta = pq.read_metadata(path)
        metrics["rows"] += meta.num_rows
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            for index in range(row_group.num_columns):
                column = row_group.column(index)
                name = column.path_in_schema
                if name not in schema.names:
                    continue
                chunk = column.statistics
                if chunk is None or chunk.null_count is None:
                    return None
                metrics[f"{name}__nulls"] += chunk.null_count
                if chunk.null_count == column.num_values or name not in numeric:
                    continue  # min and max: only of numbers, and all-null chunks have none
                if not chunk.has_min_max:
                    return None
                if _is_nan(chunk.max):  # Java orders NaN last
                    metrics[f"{name}__nan"] = 1
                for key, value, pick in (
                    (f"{name}__min", chunk.min, min),
                    (f"{name}__max", chunk.max, max),
                ):
                    if not _is_nan(value):
                        metrics[key] = (
                            value if metrics.get(key) is None else pick(metrics[key], value)
                        )
    return metrics


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


_NUMERIC = ("integer", "long", "double", "float", "short", "byte")


def _allowed_settled(metrics: dict, checks: tuple[Check, ...]) -> bool:
    """Whether min and max alone prove every value of each `allowed` column is allowed (every
    integer between them is): otherwise the values must be counted."""
    for check in checks:
        low, high = metrics.get(f"{check.column}__min"), metrics.get(f"{check.column}__max")
        if check.allowed is None or low is None:
            continue
        if not (isinstance(low, int) and isinstance(high, int)):
            return False
        if high - low + 1 > len(check.allowed):
            return False
        if not set(range(low, high + 1)) <= set(check.allowed):
            return False
    return True
