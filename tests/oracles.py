"""Brute-force references: every window recomputed from scratch, row by row, in plain numpy.

Slow (O(n * window)) and independent of the code under test: no pandas rolling, no kernels.
"""

import numpy as np
import pandas as pd


def _micros(ts: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(ts)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[us]").view(np.int64)


def percentile_oracle(trips: pd.DataFrame, window: str) -> pd.Series:
    """trip_id -> average-method percentile rank of trip_dist in the trailing global window."""
    w = pd.Timedelta(window) // pd.Timedelta(1, "us")
    ts, ids = _micros(trips["event_timestamp"]), trips["trip_id"].to_numpy()
    dist = trips["trip_dist"].to_numpy(dtype=float, na_value=np.nan)
    out = {}
    for i in range(len(trips)):
        if np.isnan(dist[i]):
            out[ids[i]] = np.nan
            continue
        members = _not_after(ts, ids, i) & (ts > ts[i] - w)
        values = dist[members]
        values = values[~np.isnan(values)]
        less = np.sum(values < dist[i])
        equal = np.sum(values == dist[i])
        out[ids[i]] = (less + (equal + 1) / 2) / len(values)
    return pd.Series(out, name="percentile_dist_rolling_3h")


def _not_after(ts: np.ndarray, ids: np.ndarray, i: int) -> np.ndarray:
    """Which rows come at or before row i in (time, trip_id) order."""
    return (ts < ts[i]) | ((ts == ts[i]) & (ids <= ids[i]))


def _aggregate(how: str, members: np.ndarray) -> float:
    """count (every trip) | mean | max (of the non-null values; NaN when there are none)."""
    if how == "count":
        return len(members)
    values = members[~np.isnan(members)]
    if not len(values):
        return np.nan
    return values.mean() if how == "mean" else values.max()


def driver_window_oracle(trips: pd.DataFrame, windows: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """trip_id -> each feature of `windows` (name -> (count|mean|max, length)) per driver."""
    ts, ids = _micros(trips["event_timestamp"]), trips["trip_id"].to_numpy()
    drivers = trips["driver_id"].to_numpy()
    dist = trips["trip_dist"].to_numpy(dtype=float, na_value=np.nan)
    rows = {}
    for i in range(len(trips)):
        earlier = (drivers == drivers[i]) & _not_after(ts, ids, i)
        row = {}
        for name, (how, length) in windows.items():
            w = pd.Timedelta(length) // pd.Timedelta(1, "us")
            members = np.flatnonzero(earlier & (ts > ts[i] - w))
            row[name] = _aggregate(how, dist[members])
        rows[ids[i]] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def windows_at_times_oracle(
    trips: pd.DataFrame, queries: pd.DataFrame, windows: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    """Per query row (driver_id, event_timestamp), in its order: each feature of `windows` over
    the driver's trips with time in (t - length, t], row by row."""
    ts = _micros(trips["event_timestamp"])
    drivers = trips["driver_id"].to_numpy()
    dist = trips["trip_dist"].to_numpy(dtype=float, na_value=np.nan)
    asked = _micros(queries["event_timestamp"])
    out = []
    for driver, t in zip(queries["driver_id"].to_numpy(), asked, strict=True):
        row = {}
        for name, (how, length) in windows.items():
            w = pd.Timedelta(length) // pd.Timedelta(1, "us")
            members = np.flatnonzero((drivers == driver) & (ts <= t) & (ts > t - w))
            row[name] = _aggregate(how, dist[members])
        out.append(row)
    return pd.DataFrame(out, index=queries.index)


def adversarial_queries(trips: pd.DataFrame, windows: list[str], rows: int = 600, seed: int = 3):
    """Times a model asks at, built to break windows at arbitrary moments: random moments, exact
    trip times (ties at t), trip times plus a window length (a trip exactly at t - w), before a
    driver's first trip, after its last, many rows at one moment, drivers with no trips."""
    rng = np.random.default_rng(seed)
    times = trips["event_timestamp"]
    lo, hi = times.min() - pd.Timedelta("2h"), times.max() + pd.Timedelta("2d")
    span = (hi - lo) // pd.Timedelta(1, "s")
    parts = [
        lo + pd.to_timedelta(rng.integers(0, span, size=rows // 3), unit="s"),
        times.sample(rows // 6, random_state=seed, replace=True).to_numpy(),
        (
            times.sample(rows // 6, random_state=seed + 1, replace=True)
            + pd.Timedelta(str(rng.choice(windows)))
        ).to_numpy(),
    ]
    moments = pd.to_datetime(np.concatenate([np.asarray(p) for p in parts]), utc=True)
    drivers = rng.choice(trips["driver_id"].unique(), size=len(moments))
    queries = pd.DataFrame({"driver_id": drivers, "event_timestamp": moments})
    crowd = pd.DataFrame(  # one moment, every driver and two unknown ones, twice each
        {
            "driver_id": np.r_[np.repeat(trips["driver_id"].unique(), 2), [-1, 999_999]],
            "event_timestamp": times.iloc[0],
        }
    )
    first = trips.groupby("driver_id")["event_timestamp"].min().reset_index()
    first["event_timestamp"] -= pd.Timedelta("1us")
    frame = pd.concat([queries, crowd, first], ignore_index=True)
    frame["event_timestamp"] = frame["event_timestamp"].astype("datetime64[us, UTC]")
    frame["driver_id"] = frame["driver_id"].astype(np.int64)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def adversarial_trips(rows: int = 1500, seed: int = 7, drivers: int = 12) -> pd.DataFrame:
    """Trips on a 15-minute grid (many exact ties, rows exactly 3h apart), some null distances,
    distances with repeats, trip ids in no particular order, shuffled row order."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-03-27 18:00", tz="UTC")  # a Friday: crosses a weekend
    slots = rng.integers(0, 4 * 60, size=rows)  # 60 hours of 15-minute slots
    event = start + pd.to_timedelta(slots * 15, unit="min")
    dist = np.round(rng.uniform(0.5, 6.0, size=rows), 1)
    dist[rng.random(rows) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "trip_id": rng.permutation(rows).astype(np.int64) * 7 + 3,
            "event_timestamp": event.astype("datetime64[us, UTC]"),
            "driver_id": rng.integers(0, drivers, size=rows).astype(np.int64) + 100,
            "rider_id": rng.integers(1, 50, size=rows).astype(np.int64),
            "trip_dist": dist,
            "created": (event + pd.to_timedelta(rng.integers(1, 600, size=rows), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
        }
    )
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def point_in_time_oracle(
    entities: pd.DataFrame,
    timestamp: str,
    features: pd.DataFrame,
    keys: list[str],
    feature_timestamp: str,
    created: str | None,
    columns: list[str],
    ttl: pd.Timedelta | None,
) -> pd.DataFrame:
    """Per entity row: the latest feature row of its key with time <= entity time (and within
    ttl), ties broken by created time; nulls where nothing qualifies. Row by row, no joins."""
    out = []
    for _, row in entities.iterrows():
        t = row[timestamp]
        same_key = pd.Series(True, index=features.index)  # no keys: one timeline for all
        for k in keys:
            same_key &= features[k] == row[k]
        match = (
            features[same_key & (features[feature_timestamp] <= t)]
            if not any(pd.isna(row[k]) for k in keys)
            else features.iloc[0:0]
        )
        if ttl is not None:
            match = match[match[feature_timestamp] >= t - ttl]
        if len(match):
            order = [feature_timestamp] + ([created] if created else [])
            best = match.sort_values(order, kind="stable").iloc[-1]
            out.append({c: best[c] for c in columns})
        else:
            out.append(dict.fromkeys(columns))
    return pd.DataFrame(out, index=entities.index)


T0 = pd.Timestamp("2026-03-01 00:00", tz="UTC")  # the start of the point-in-time test data


def minutes_after(minutes):
    """T0 plus `minutes` (a number or an array of them)."""
    return T0 + pd.to_timedelta(minutes, unit="min")


def shipped_windows() -> dict[str, tuple[str, str]]:
    """The shipped catalogue's temporal windows: feature -> (aggregation, window)."""
    from transforms.feature_catalogue import Catalogue
    from trip_features.runtime.config import load_config

    temporal = Catalogue.from_conf(load_config("local").features).temporal()["driver_activity"]
    return {name: (how, window) for name, (how, window, _) in temporal.items()}


def windows_at(table: pd.DataFrame, drivers: list[int], moment) -> pd.DataFrame:
    """Each driver's windows at one moment (the oracle), indexed by driver."""
    asked = pd.DataFrame(
        {"driver_id": drivers, "event_timestamp": pd.Timestamp(moment).tz_convert("UTC")}
    )
    return windows_at_times_oracle(table, asked, shipped_windows()).set_index(asked["driver_id"])
