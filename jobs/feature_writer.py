"""The on-disk layout of every table the jobs write: a UTC `date` partition, rows in order.

Hamilton has no Spark savers; `jobs.publishing` writes with this layout and publishes atomically.
"""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.time_columns import PARTITION_COLUMN

__all__ = ["PARTITION_COLUMN", "with_date_partition"]


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
    # One task and one file per date, rows sorted: reruns write the same rows in the same order.
    return dated.repartition(PARTITION_COLUMN).sortWithinPartitions(
        PARTITION_COLUMN, "event_timestamp", "trip_id"
    )
