"""The on-disk layout of every table the jobs write: a UTC `date` partition, one file per date,
rows in a stable order, so reruns write the same rows in the same order under the same names.

Hamilton has no Spark savers; the feature job writes here, then
`trip_features.storage.file_publication` publishes.
"""

from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.kernels.time_columns import PARTITION_COLUMN

__all__ = ["PARTITION_COLUMN", "PART_FILE", "with_date_partition", "write_by_date"]

PART_FILE = "part-00000.parquet"


def with_date_partition(table: DataFrame, undated: str | None = None) -> DataFrame:
    """The table with its UTC event date as the partition column, rows in a stable order.

    A table that already carries `date` comes laid out by its transform (one partition per date,
    rows in (event_timestamp, trip_id) order) and is written as it is. Rows without an event time
    go to `date=<undated>` when given (as text), else fail to write.
    """
    if PARTITION_COLUMN in table.columns:
        return table
    date = F.to_date("event_timestamp")
    if undated is not None:
        date = F.coalesce(F.date_format("event_timestamp", "yyyy-MM-dd"), F.lit(undated))
    dated = table.withColumn(PARTITION_COLUMN, date)
    return dated.repartition(PARTITION_COLUMN).sortWithinPartitions(
        PARTITION_COLUMN, "event_timestamp", "trip_id"
    )


# Columns whose values are nearly all distinct: a dictionary saves no space there and costs ~1 s
# of writing per 1e7 rows and table (docs/benchmark-log.md).
_DISTINCT_TYPES = (T.DoubleType, T.FloatType, T.TimestampType, T.TimestampNTZType)
_DISTINCT_COLUMNS = ("trip_id",)


def dictionary_options(schema: T.StructType) -> dict[str, str]:
    """Parquet writer options turning dictionary encoding off for nearly-distinct columns."""
    return {
        f"parquet.enable.dictionary#{field.name}": "false"
        for field in schema.fields
        if isinstance(field.dataType, _DISTINCT_TYPES) or field.name in _DISTINCT_COLUMNS
    }


def write_by_date(table: DataFrame, folder: Path, undated: str | None = None) -> Path:
    """Writes `table` into `folder` (replaced), one file per date with a fixed name."""
    laid_out = with_date_partition(table, undated)
    laid_out.write.mode("overwrite").options(**dictionary_options(laid_out.schema)).partitionBy(
        PARTITION_COLUMN
    ).parquet(str(folder))
    for entry in folder.iterdir():
        if entry.is_file():  # _SUCCESS and checksums: not part of the table
            entry.unlink()
            continue
        parts = sorted(p for p in entry.iterdir() if p.suffix == ".parquet")
        for extra in [p for p in entry.iterdir() if p.suffix != ".parquet"]:
            extra.unlink()
        if len(parts) != 1:
            raise RuntimeError(f"{entry} holds {len(parts)} files; one per date was expected")
        parts[0].rename(entry / PART_FILE)
    return folder
