"""Moving event times between engines as integer microseconds since the epoch (UTC).

Arrow hands integers to Python far faster than time-zone-aware timestamps, so the Spark steps that
run pandas code send `unix_micros(...)` and rebuild timestamps on return.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trip_features.runtime.durations import parse_duration

DAY_US = 86_400_000_000
PARTITION_COLUMN = "date"  # every table's partition: the UTC date of its event time


def to_micros(ts: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch; naive times are taken to be UTC."""
    ts = pd.to_datetime(ts)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[us]").view(np.int64)


def window_micros(window: str | pd.Timedelta) -> int:
    """A positive window length such as '3h' or '7d' in microseconds, or a clear error."""
    micros = parse_duration(window, "window length") // pd.Timedelta(1, "us")
    if micros <= 0:  # shorter than a microsecond
        raise ValueError(f"window length {window!r} must be positive")
    return int(micros)
