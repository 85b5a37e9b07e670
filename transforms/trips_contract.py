"""The trips every feature reads: checked against the contract and normalised (UTC, no NaN)."""

import pandas as pd
from hamilton.function_modifiers import config
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.trips_schema import TRIPS_COLUMNS, check_trips_schema, normalise_trips_pandas


@config.when(engine="spark")
def trips__spark(trips_raw: DataFrame) -> DataFrame:
    """Trips with the contract's columns and types; NaN distances become null, times are UTC."""
    check_trips_schema(trips_raw.schema)
    columns = []
    for name, expected in TRIPS_COLUMNS.items():
        col = F.col(name).cast(expected)  # TIMESTAMP_NTZ -> TIMESTAMP reads as UTC (session zone)
        if name == "trip_dist":
            col = F.when(F.isnan(col), F.lit(None).cast(expected)).otherwise(col)
        columns.append(col.alias(name))
    return trips_raw.select(*columns)


@config.when(engine="pandas")
def trips__pandas(trips_raw: pd.DataFrame) -> pd.DataFrame:
    """Trips with the contract's columns and types; times are UTC."""
    return normalise_trips_pandas(trips_raw)
