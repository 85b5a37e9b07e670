"""Row-level quality rules for trips: every row is accepted or quarantined with its reasons.

Each rule has an action in `conf/` (`quality.rules`): `quarantine` (the row goes to the quarantine
table with the rule's name), `fail` (the job stops before writing anything if any row breaks it) or
`keep` (the rule is not evaluated). Accepted + quarantined = input, always.
"""

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.quality_rules import FLAGS, REASONS, RULES, checked_rules, reasons_of, rule_bit
from transforms.trips_contract import TRIPS_COLUMNS

AS_GIVEN = "_as_given"  # suffix of the columns holding timestamps as the input gave them


def _given(name: str, columns: list[str]) -> Column:
    """The time as the input gave it: text inputs keep it beside the parsed one."""
    return F.col(f"{name}{AS_GIVEN}") if f"{name}{AS_GIVEN}" in columns else F.col(name)


def _unparsable(name: str, columns: list[str]) -> Column:
    return _given(name, columns).isNotNull() & F.col(name).isNull()


def _rule_columns(
    columns: list[str], max_trip_km: float, future_limit: dt.datetime
) -> dict[str, Column]:
    dist = F.col("trip_dist")
    return {
        "unparsable_timestamp": _unparsable("event_timestamp", columns)
        | _unparsable("created", columns),
        "null_timestamp": _given("event_timestamp", columns).isNull()
        | _given("created", columns).isNull(),
        "null_key": F.col("trip_id").isNull() | F.col("driver_id").isNull(),
        "missing_distance": dist.isNull(),
        "negative_distance": dist < 0,
        "absurd_distance": dist > F.lit(float(max_trip_km)),
        "future_timestamp": F.col("event_timestamp") > F.lit(future_limit),
        "created_before_event": F.col("created") < F.col("event_timestamp"),
    }


def _version(columns: list[str]) -> Column:
    return F.xxhash64(*[F.col(c) for c in columns])


def _duplicates(
    frame: DataFrame, shared_trip_ids: DataFrame, check_rows: bool, check_ids: bool
) -> DataFrame:
    """Flags exact copies of a row (all but one copy) and trip ids shared by different rows.

    Only the rows of the shared ids (normally none) are compared column by column; with no shared
    ids, the optimizer drops the join and that branch altogether."""
    columns = list(TRIPS_COLUMNS)
    flagged = frame.join(F.broadcast(shared_trip_ids), on="trip_id", how="left")
    unique = flagged.where(F.col("__copies").isNull())
    repeated = flagged.where(F.col("__copies").isNotNull())
    if check_rows:
        copies = Window.partitionBy(*columns).orderBy(F.lit(1))
        repeated = repeated.withColumn("duplicate_row", F.row_number().over(copies) > 1)
        unique = unique.withColumn("duplicate_row", F.lit(False))
    if check_ids:
        repeated = repeated.withColumn("duplicate_trip_id", F.col("__lo") != F.col("__hi"))
        unique = unique.withColumn("duplicate_trip_id", F.lit(False))
    return unique.unionByName(repeated).drop("__copies", "__lo", "__hi")


def trips_typed(trips_raw: DataFrame) -> DataFrame:
    """The contract's columns in the contract's types (text times parsed, NaN distances null);
    text timestamps are also kept as given, for the unparsable rule and the quarantine table."""
    from transforms.trips_contract import check_trips_schema

    check_trips_schema(trips_raw.schema)
    columns = []
    for name, expected in TRIPS_COLUMNS.items():
        source = trips_raw.schema[name].dataType
        col = F.col(name)
        if isinstance(expected, T.TimestampType) and isinstance(source, T.StringType):
            col = F.try_to_timestamp(col)
        col = col.cast(expected)  # TIMESTAMP_NTZ -> TIMESTAMP reads as UTC (session zone)
        if name == "trip_dist":
            col = F.when(F.isnan(col), F.lit(None).cast(expected)).otherwise(col)
        columns.append(col.alias(name))
    given = [
        F.col(n).alias(f"{n}{AS_GIVEN}")
        for n in ("event_timestamp", "created")
        if isinstance(trips_raw.schema[n].dataType, T.StringType)
    ]
    return trips_raw.select(*columns, *given)


def shared_trip_ids(trips_typed: DataFrame) -> DataFrame:
    """Trip ids held by more than one row, with their row count and lowest and highest version
    (a hash of the whole row: equal when the rows are exact copies)."""
    version = _version(list(TRIPS_COLUMNS))
    return (
        trips_typed.where(F.col("trip_id").isNotNull())
        .groupBy("trip_id")
        .agg(
            F.count(F.lit(1)).alias("__copies"),
            F.min(version).alias("__lo"),
            F.max(version).alias("__hi"),
        )
        .where(F.col("__copies") > 1)
    )


def trips_checked(
    trips_typed: DataFrame,
    shared_trip_ids: DataFrame,
    quality_rules: dict | None = None,
    max_trip_km: float = 500.0,
    future_limit: dt.datetime | None = None,
) -> DataFrame:
    """Trips with `quality_flags`: a bit for each rule the row breaks (0: accepted)."""
    quality_rules = checked_rules(quality_rules)
    if future_limit is None:
        future_limit = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    active = [r for r in RULES if quality_rules[r] != "keep"]
    frame = trips_typed
    if "duplicate_row" in active or "duplicate_trip_id" in active:
        frame = _duplicates(
            frame, shared_trip_ids, "duplicate_row" in active, "duplicate_trip_id" in active
        )
    rules = _rule_columns(frame.columns, max_trip_km, future_limit)
    # One bit per rule (a plain long: cheap to compute, count and filter on 1e7 rows).
    flags = F.lit(0).cast("long")
    for rule in active:
        broken = F.coalesce(rules[rule] if rule in rules else F.col(rule), F.lit(False))
        flags = flags + F.when(broken, F.lit(rule_bit(rule))).otherwise(F.lit(0)).cast("long")
    return frame.withColumn(FLAGS, flags).drop(
        *[r for r in ("duplicate_row", "duplicate_trip_id") if r in frame.columns]
    )


def trips_quarantined(trips_checked: DataFrame) -> DataFrame:
    """The rows some rule quarantines, with their reasons and the timestamps as given."""
    quarantined = trips_checked.where(F.col(FLAGS) != 0)
    return quarantined.withColumn(REASONS, reasons_of(F.col(FLAGS))).drop(FLAGS)
