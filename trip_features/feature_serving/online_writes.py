"""The body of POST /write-to-online-store (served only with serving.write_routes and auth),
checked against the view it writes: every column the view holds, each value of its type.

    {"feature_view_name": "driver_activity",
     "df": {"driver_id": [1001], "event_timestamp": ["2026-01-31T12:00:00Z"], "trips_1h": [3], ...}}

The online store keeps a row out when it is older than the one it holds for the same driver. The
view's created-time column is optional (now, when left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from feast import FeatureView, OnDemandFeatureView
from feast.errors import FeatureViewNotFoundException

from trip_features.feature_serving.lookup_request import (
    _CHECKS,
    Refused,
    _integer,
    _row_count,
    _short,
)

WRITE_KEYS = ("feature_view_name", "df")


@dataclass(frozen=True)
class Write:
    view: str
    frame: pd.DataFrame
    rows: int


def _number(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "is not a number"
    return None if math.isfinite(value) else "is not finite"


VALUE_CHECKS = {**_CHECKS, "DOUBLE": _number, "FLOAT": _number, "INT64": _integer(63)}


def checked_write(body: dict, store, max_rows: int) -> Write:
    """The write `body` asks for, every column and value checked; `Refused` at the first mistake."""
    unknown = sorted(set(body) - set(WRITE_KEYS))
    if unknown:
        raise Refused(400, unknown[0], f"is not a write field; send only {list(WRITE_KEYS)}")
    name, columns = body.get("feature_view_name"), body.get("df")
    if not isinstance(name, str) or not name:
        raise Refused(400, "feature_view_name", "send the name of a registered feature view")
    try:
        view = store.registry.get_any_feature_view(name, store.project, allow_cache=True)
    except FeatureViewNotFoundException:
        raise Refused(404, "feature_view_name", f"{name!r} is not a registered view") from None
    if isinstance(view, OnDemandFeatureView) or not isinstance(view, FeatureView):
        raise Refused(400, "feature_view_name", f"{name!r} is computed at request time, not stored")
    if not isinstance(columns, dict) or not columns:
        raise Refused(400, "df", "send an object of columns, each a list of values")
    timestamp = view.batch_source.timestamp_field
    created = view.batch_source.created_timestamp_column or None
    keys = {f.name: f.dtype.to_value_type().name for f in view.entity_columns}
    features = {f.name: f.dtype.to_value_type().name for f in view.features}
    required = [*keys, timestamp, *features]
    optional = [created] if created else []
    extra = sorted(set(columns) - set(required) - set(optional))
    if extra:
        raise Refused(400, extra[0], f"is not a column of {name}; it has {required}")
    missing = [c for c in required if c not in columns]
    if missing:
        raise Refused(400, missing[0], f"is missing: {name} needs {required}")
    rows = _row_count(columns, max_rows, group="df")
    for column, values in columns.items():
        kind = "UNIX_TIMESTAMP" if column in (timestamp, created) else {**keys, **features}[column]
        check = VALUE_CHECKS.get(kind)
        if check is None:
            raise Refused(400, column, f"has type {kind}, which writes over HTTP do not take")
        nullable = column in features
        for index, value in enumerate(values):
            problem = None if (value is None and nullable) else check(value)
            if problem:
                raise Refused(400, f"{column}[{index}]", f"{_short(value)} {problem}")
    frame = pd.DataFrame(columns)
    for column in (timestamp, *optional):
        if column in frame:
            frame[column] = [_utc(v) for v in frame[column]]
    if created and created not in frame:  # when it was written: now
        frame[created] = pd.Timestamp.now(tz="UTC")
    return Write(view=name, frame=frame, rows=rows)


def _utc(value) -> pd.Timestamp:
    if isinstance(value, str):
        return pd.Timestamp(value).tz_convert("UTC")
    return pd.Timestamp(value, unit="s", tz="UTC")
