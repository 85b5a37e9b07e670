"""Loads the raw trips for the feature dataflow: a parquet folder or a Spark table, by date range."""

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from trip_features.runtime.locations import is_table_name
from trip_features.storage.read_errors import explain_read_error


class TripsNotFoundError(FileNotFoundError):
    """The trips location is neither a readable parquet folder nor a Spark table."""


class TripsUnreadableError(ValueError):
    """The trips exist but Spark cannot read them as they are."""


def trips_raw(
    spark: SparkSession,
    trips_location: str,
    read_from: dt.datetime | None,
    read_until: dt.datetime | None,
) -> DataFrame:
    """The raw trips with event time in [read_from, read_until), from parquet or a Spark table."""
    try:
        if is_table_name(trips_location):
            frame = spark.read.table(trips_location)
        else:
            frame = spark.read.parquet(trips_location)
    except AnalysisException as err:
        if "PATH_NOT_FOUND" not in str(err) and "TABLE_OR_VIEW_NOT_FOUND" not in str(err):
            raise TripsUnreadableError(explain_read_error(trips_location, err)) from err
        raise TripsNotFoundError(
            f"cannot read trips from {trips_location!r}: give a parquet folder (as written by "
            f"jobs.generate_trips) or a Spark table name. Spark said: {str(err).splitlines()[0]}"
        ) from err
    if "event_timestamp" not in frame.columns:
        return frame  # the contract check names what is missing
    if read_from is not None:
        frame = frame.where(F.col("event_timestamp") >= F.lit(read_from))
    if read_until is not None:
        frame = frame.where(F.col("event_timestamp") < F.lit(read_until))
    if "date" in frame.columns and (read_from is not None or read_until is not None):
        # Partition pruning; a day of slack either side in case the folders follow another zone.
        if read_from is not None:
            frame = frame.where(F.col("date") >= F.lit((read_from - dt.timedelta(days=1)).date()))
        if read_until is not None:
            frame = frame.where(F.col("date") <= F.lit((read_until + dt.timedelta(days=1)).date()))
    return frame
