"""The trips contract: the columns every feature reads and the types they must have."""

import pandas as pd
from pyspark.sql import types as T

# column -> Spark type the features rely on; a narrower integer or float is widened.
TRIPS_COLUMNS: dict[str, T.DataType] = {
    "trip_id": T.LongType(),
    "event_timestamp": T.TimestampType(),
    "driver_id": T.LongType(),
    "rider_id": T.LongType(),
    "trip_dist": T.DoubleType(),
    "created": T.TimestampType(),
}
_WIDENS_TO = {
    T.LongType(): (T.ByteType(), T.ShortType(), T.IntegerType()),
    T.DoubleType(): (T.FloatType(), T.ByteType(), T.ShortType(), T.IntegerType(), T.LongType()),
    # naive times are read as UTC; text is parsed, and rows it fails to parse are quarantined
    T.TimestampType(): (T.TimestampNTZType(), T.StringType()),
}


class TripsSchemaError(ValueError):
    """The trips input lacks a column or has one of a type the features cannot use."""


def check_trips_schema(schema: T.StructType) -> None:
    """Raises a TripsSchemaError naming every missing or mistyped column."""
    found = {f.name: f.dataType for f in schema.fields}
    problems = []
    for name, expected in TRIPS_COLUMNS.items():
        if name not in found:
            problems.append(f"column '{name}' is missing (expected {expected.simpleString()})")
        elif found[name] != expected and found[name] not in _WIDENS_TO.get(expected, ()):
            problems.append(
                f"column '{name}' has type {found[name].simpleString()}, "
                f"expected {expected.simpleString()}"
            )
    if problems:
        raise TripsSchemaError(
            "the trips input does not match the contract: "
            + "; ".join(problems)
            + f". Found columns: {', '.join(f'{n} {t.simpleString()}' for n, t in found.items())}."
        )


def normalise_trips_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    """The pandas twin of `trips__spark`: contract columns, UTC-aware microsecond times."""
    missing = [c for c in TRIPS_COLUMNS if c not in frame.columns]
    if missing:
        raise TripsSchemaError(f"the trips input lacks column(s) {missing}; found {list(frame)}")
    out = frame[list(TRIPS_COLUMNS)].copy()
    for name in ("event_timestamp", "created"):
        ts = pd.to_datetime(out[name])
        ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
        out[name] = ts.astype("datetime64[us, UTC]")
    for name in ("trip_id", "driver_id", "rider_id"):
        out[name] = out[name].astype("int64")
    out["trip_dist"] = out["trip_dist"].astype("float64")
    return out
