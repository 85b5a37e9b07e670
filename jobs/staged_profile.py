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

from jobs.publishing import PART_FILE
from transforms.spark_checks import Check, profile

_MISSING = object()


def profile_staged(
    spark: SparkSession, staged: Path, schema: T.StructType, checks: tuple[Check, ...] = ()
) -> dict:
    """The profile `transforms.spark_checks.profile` would give for the staged files."""
    files = sorted(staged.glob(f"*/{PART_FILE}"))
    footers = _from_footers(files, schema)
    if footers is None or not _allowed_settled(footers, checks):
        frame = spark.read.schema(schema).parquet(*[str(f) for f in files]) if files else None
        return profile(frame, checks) if frame is not None else _empty(schema)
    for check in checks:
        if check.allowed is not None and check.column in footers["columns"]:
            footers["columns"][check.column]["outside_allowed"] = 0
    return footers


def _from_footers(files: list[Path], schema: T.StructType) -> dict | None:
    rows = 0
    stats = {name: {"nulls": 0, "min": None, "max": None, "nan": False} for name in schema.names}
    numeric = {f.name for f in schema.fields if f.dataType.typeName() in _NUMERIC}
    for path in files:
        meta = pq.read_metadata(path)
        rows += meta.num_rows
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            for index in range(row_group.num_columns):
                column = row_group.column(index)
                name = column.path_in_schema
                if name not in stats:
                    continue
                chunk = column.statistics
                if chunk is None or chunk.null_count is None:
                    return None
                entry = stats[name]
                entry["nulls"] += chunk.null_count
                if chunk.null_count == column.num_values or name not in numeric:
                    continue  # min and max: only of numbers, and all-null chunks have none
                if not chunk.has_min_max:
                    return None
                low, high = chunk.min, chunk.max
                if isinstance(high, float) and math.isnan(high):
                    entry["nan"] = True
                    high = _MISSING
                if isinstance(low, float) and math.isnan(low):
                    low = _MISSING
                if low is not _MISSING:
                    entry["min"] = low if entry["min"] is None else min(entry["min"], low)
                if high is not _MISSING:
                    entry["max"] = high if entry["max"] is None else max(entry["max"], high)
    columns = {}
    for field in schema.fields:
        entry = stats[field.name]
        columns[field.name] = {
            "type": field.dataType.simpleString(),
            "nulls": entry["nulls"],
            "null_fraction": entry["nulls"] / rows if rows else 0.0,
            "min": entry["min"],
            "max": entry["max"],
            **({"nan": True} if entry["nan"] else {}),
        }
    return {"rows": rows, "columns": columns}


_NUMERIC = ("integer", "long", "double", "float", "short", "byte")


def _allowed_settled(footers: dict, checks: tuple[Check, ...]) -> bool:
    """Whether min and max alone prove every value of each `allowed` column is allowed (every
    integer between them is): otherwise the values must be counted."""
    for check in checks:
        column = footers["columns"].get(check.column)
        if check.allowed is None or column is None or column["min"] is None:
            continue
        low, high = column["min"], column["max"]
        if not (isinstance(low, int) and isinstance(high, int)):
            return False
        if high - low + 1 > len(check.allowed):
            return False
        if not set(range(low, high + 1)) <= set(check.allowed):
            return False
    return True


def _empty(schema: T.StructType) -> dict:
    columns = {
        f.name: {
            "type": f.dataType.simpleString(),
            "nulls": 0,
            "null_fraction": 0.0,
            "min": None,
            "max": None,
        }
        for f in schema.fields
    }
    return {"rows": 0, "columns": columns}
