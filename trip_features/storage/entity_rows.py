"""A training set's entity rows, from a parquet path, a SQL query or a Spark table; and where a
training set may be written without destroying anything.

pandas writes parquet with nanosecond timestamps by default, which Spark 4 cannot read. Local
entity files holding them are read through Arrow instead, their times cast to microseconds; a
time with nanoseconds that would be lost is refused with the line that rewrites the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from trip_features.runtime.errors import JobError
from trip_features.runtime.locations import is_local, is_uri

SQL = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
MARKER = "_TRAINING_SET.json"  # in each folder jobs.training_set wrote; Spark skips _ files


class EntityRowsError(JobError):
    """The entity rows cannot be read, or the output would destroy data."""


def spark_reason(err: Exception) -> str:
    """Spark's message without its JVM stack trace and SQL context: every line up to them."""
    lines = []
    for line in str(err).splitlines():
        if line.startswith(("\tat ", "== SQL", "JVM stacktrace", "== Physical")):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)[:600] or type(err).__name__


def read_entities(spark: SparkSession, entities: str) -> DataFrame:
    """Entity rows from a parquet path, a SQL query, or a Spark table, in that order of trying."""
    try:
        if os.path.exists(entities):
            return _read_parquet(spark, entities)
        if SQL.match(entities):
            return spark.sql(entities)
        return spark.read.table(entities)
    except EntityRowsError:
        raise
    except Exception as err:  # Spark raises several kinds; all mean the same to the user
        raise EntityRowsError(
            f"cannot read entity rows from {entities!r} (a parquet path, a Spark table or a SELECT "
            f"query): {spark_reason(err)}"
        ) from err


def _read_parquet(spark: SparkSession, location: str) -> DataFrame:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(location) if os.path.isfile(location) else _folder_schema(location)
    except Exception:  # not readable by Arrow: Spark says why
        return spark.read.parquet(location)
    nanos = [f.name for f in schema if _is_nanos(f.type)]
    if not nanos:
        return spark.read.parquet(location)
    return spark.createDataFrame(_as_micros(pq.read_table(location), nanos, location))


def _folder_schema(location: str):
    import pyarrow.dataset as ds

    return ds.dataset(location, format="parquet", exclude_invalid_files=True).schema


def _is_nanos(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_timestamp(kind) and kind.unit == "ns"


def _as_micros(table, columns: list[str], location: str):
    """`table` with its nanosecond columns as microseconds; refused when that would lose time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in columns:
        column = table.column(name)
        ticks = pc.cast(column, pa.int64())
        if pc.any(pc.not_equal(pc.remainder(ticks, 1000), 0)).as_py():
            raise EntityRowsError(
                f"{location}: column {name} holds times with nanoseconds, which Spark cannot "
                "keep: round them and rewrite the file with pandas' "
                "to_parquet(..., coerce_timestamps='us', allow_truncated_timestamps=True)"
            )
        kind = pa.timestamp("us", tz=column.type.tz)
        table = table.set_column(table.schema.get_field_index(name), name, pc.cast(column, kind))
    return table


def check_output(out: str, inputs: list[str], overwrite: bool) -> None:
    """Refuses an output location that is (in, or holds) one of `inputs`, or that is a folder
    jobs.training_set did not write, unless `overwrite`: a typo must not delete data."""
    if is_uri(out):
        return  # object stores: the caller names a prefix of its own
    target = Path(out).resolve()
    for given in inputs:
        if not given or is_uri(given) or SQL.match(given):
            continue
        source = Path(given).resolve()
        if target == source or source.is_relative_to(target) or target.is_relative_to(source):
            raise EntityRowsError(
                f"--out {out} would overwrite {given}, an input of this job: write elsewhere"
            )
    if target.is_file():
        raise EntityRowsError(f"--out {out} is a file: give a folder for the training set")
    if not target.is_dir() or not any(target.iterdir()) or (target / MARKER).exists():
        return
    if not overwrite:
        raise EntityRowsError(
            f"--out {out} is a folder of other files (not an earlier training set): give a new "
            "folder, or pass --overwrite to replace everything in it"
        )


def mark_output(out: str, service: str, rows: int) -> None:
    """Marks `out` as a training set, so a later run may replace it."""
    if is_local(out):
        Path(out, MARKER).write_text(json.dumps({"service": service, "rows": rows}) + "\n")
