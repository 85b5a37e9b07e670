"""The trips every feature reads: on Spark, the rows `trips_quality` accepts."""

import pandas as pd
from hamilton.function_modifiers import config
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.quality_rules import FLAGS
from transforms.trips_contract import TRIPS_COLUMNS, normalise_trips_pandas


@config.when(engine="spark")
def trips__spark(trips_checked: DataFrame) -> DataFrame:
    """Trips no quality rule quarantines, in the contract's columns and types (UTC, no NaN)."""
    return trips_checked.where(F.col(FLAGS) == 0).select(*TRIPS_COLUMNS)


@config.when(engine="pandas")
def trips__pandas(trips_raw: pd.DataFrame) -> pd.DataFrame:
    """Trips with the contract's columns and types; times are UTC."""
    return normalise_trips_pandas(trips_raw)
