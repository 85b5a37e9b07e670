"""The leakage audit: no feature of a trip depends on later trips, and no window feature on trips
that have left its window.

For each cut time T, on small adversarial trips (a 15-minute grid of exact ties, null and repeated
distances, 10 days so that the longest window fills), the features are computed again after:

- changing the future: trips with event time after T get other distances (some null), a third
  are removed, and new ones arrive at T + 1 us, T + 1 s, T + 15 min and later; every feature of
  every trip at or before T must stay as it was;
- changing the past: the same done to trips at or before an edge E = T - (the longest window),
  new ones at exactly E, a microsecond and 15 minutes before; every feature with window w, of
  every trip after E + w, must stay as it was (one change audits every window, each at its cut).

A trip counts by its event time, whenever it arrived (definitions.temporal_views): arrival is
not audited. Values are the same when both are null, or equal within 1e-9 relative (a running
mean adds and removes the changed past in another order). A transform is audited through
`audit`, given a function from trips to its features per trip; `catalogue_features` makes that
function for the declared features on either engine (`python -m jobs.audit_leakage`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trip_features.runtime.settings import FeatureSettings

Compute = Callable[[pd.DataFrame], pd.DataFrame]  # trips -> features, one row per trip_id
FUTURE, PAST = "trips after the cut", "trips at or before the cut minus the window"
_GRID = pd.Timedelta("15min")


@dataclass(frozen=True)
class Leak:
    """A feature whose value at a trip changed with trips it must not depend on."""

    feature: str
    cut: pd.Timestamp
    changed: str  # FUTURE or PAST
    trip_id: int
    trip_time: pd.Timestamp
    before: Any
    after: Any

    def __str__(self) -> str:
        if self.changed == FUTURE:
            what = f"changing the trips after {self.cut.isoformat()}"
        else:
            what = f"changing the trips that left its window before the cut {self.cut.isoformat()}"
        return (
            f"{self.feature} leaks: {what} changed it at trip {self.trip_id} "
            f"({self.trip_time.isoformat()}) from {self.before} to {self.after}"
        )


def adversarial_trips(rows: int = 1200, drivers: int = 8, days: int = 10, seed: int = 11):
    """Trips on a 15-minute grid over `days` (ties within and across drivers), 5 % null and many
    repeated distances, trip ids in no order, rows shuffled; the trips contract's columns."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-03-20 00:00", tz="UTC")
    event = start + _GRID * rng.integers(0, days * 96, size=rows)
    dist = np.round(rng.uniform(0.5, 6.0, size=rows), 1)
    dist[rng.random(rows) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "trip_id": rng.permutation(rows).astype(np.int64) * 7 + 3,
            "event_timestamp": pd.DatetimeIndex(event).astype("datetime64[us, UTC]"),
            "driver_id": rng.integers(0, drivers, size=rows).astype(np.int64) + 100,
            "rider_id": rng.integers(1, 50, size=rows).astype(np.int64),
            "trip_dist": dist,
        }
    )
    frame["created"] = frame["event_timestamp"] + pd.to_timedelta(
        rng.integers(1, 600, size=rows), unit="s"
    )
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def cut_times(trips: pd.DataFrame, count: int = 3) -> list[pd.Timestamp]:
    """`count` cuts late enough that a week of trips lies before them: alternately exactly at a
    trip's time (ties at the cut) and between grid points."""
    times = trips["event_timestamp"].sort_values()
    first, last = times.iloc[0], times.iloc[-1]
    cuts = []
    for i in range(count):
        at = (
            first + pd.Timedelta("7d") + (last - first - pd.Timedelta("7d")) * (i + 1) / (count + 1)
        )
        at = times[times >= at].iloc[0]  # a trip's own time
        cuts.append(at if i % 2 == 0 else at + pd.Timedelta("7min"))
    return cuts


def audit(
    compute: Compute,
    windows: dict[str, pd.Timedelta | None],
    trips: pd.DataFrame,
    cuts: Sequence[pd.Timestamp],
    seed: int = 0,
) -> list[Leak]:
    """Every leak of the features `windows` names (feature -> its window, None for a feature of
    the trip alone) that the cuts find; empty when none. `compute` runs once on `trips` and
    twice per cut on changed trips: once with the future changed, once with the past before
    the cut minus the longest window (for a window w, its cut is then that edge plus w)."""
    rng = np.random.default_rng(seed)
    base = _checked(compute(trips), windows, len(trips))
    when = trips.set_index("trip_id")["event_timestamp"]
    lengths = sorted({w for w in windows.values() if w is not None})
    leaks: list[Leak] = []
    for cut in cuts:
        changed = _changed(trips, trips["event_timestamp"] > cut, cut, +1, rng)
        again = _checked(compute(changed), windows, len(changed))
        kept = when.index[when <= cut]
        leaks += _differences(base, again, kept, list(windows), cut, FUTURE, when)
        if not lengths:
            continue
        edge = cut - lengths[-1]
        changed = _changed(trips, trips["event_timestamp"] <= edge, edge, -1, rng)
        again = _checked(compute(changed), windows, len(changed))
        for window in lengths:
            kept = when.index[when > edge + window]
            features = [f for f, w in windows.items() if w == window]
            leaks += _differences(base, again, kept, features, edge + window, PAST, when)
    return leaks


def _changed(trips: pd.DataFrame, region, edge: pd.Timestamp, side: int, rng) -> pd.DataFrame:
    """`trips` with those in `region` changed: a third removed, half of the rest given other
    distances (a tenth null), and new trips at the `edge` and beyond it on `side` (+1 after,
    -1 before), for every driver."""
    inside = trips[region]
    removed = inside.sample(frac=1 / 3, random_state=int(rng.integers(1 << 31))).index
    out = trips.drop(index=removed).copy()
    touched = out.index[region.loc[out.index].to_numpy() & (rng.random(len(out)) < 0.5)]
    dist = np.round(rng.uniform(0.5, 6.0, size=len(touched)), 1)
    dist[rng.random(len(touched)) < 0.1] = np.nan
    out.loc[touched, "trip_dist"] = dist
    offsets = [pd.Timedelta(0), pd.Timedelta("1us"), pd.Timedelta("1s"), _GRID, pd.Timedelta("5h")]
    if side > 0:  # after the cut: strictly later
        offsets = offsets[1:]
    drivers = np.sort(trips["driver_id"].unique())
    new = []
    next_id = int(trips["trip_id"].max()) + 1
    for driver in drivers:
        for offset in offsets:
            at = edge + side * offset
            new.append(
                {
                    "trip_id": next_id,
                    "event_timestamp": at,
                    "driver_id": driver,
                    "rider_id": int(rng.integers(1, 50)),
                    "trip_dist": float(np.round(rng.uniform(0.5, 6.0), 1)),
                    "created": at + pd.Timedelta(seconds=int(rng.integers(1, 600))),
                }
            )
            next_id += 1
    added = pd.DataFrame(new).astype(trips.dtypes.to_dict())
    return pd.concat([out, added], ignore_index=True)


def _checked(features: pd.DataFrame, windows: dict, rows: int) -> pd.DataFrame:
    missing = sorted(set(windows) - set(features.columns))
    if missing:
        raise ValueError(f"the transform did not compute {missing}: audit what it computes")
    if len(features) != rows or not features.index.is_unique:
        raise ValueError(
            f"the transform gave {len(features)} rows for {rows} trips: a feature per trip, "
            "indexed by trip_id, is what the audit compares"
        )
    return features


def _differences(base, again, trip_ids, features, cut, changed, when) -> list[Leak]:
    """The first differing trip of each feature, among `trip_ids`."""
    leaks = []
    for feature in features:
        before = base.loc[trip_ids, feature].to_numpy(dtype=float, na_value=np.nan)
        after = again.loc[trip_ids, feature].to_numpy(dtype=float, na_value=np.nan)
        same = (np.isnan(before) & np.isnan(after)) | np.isclose(
            before, after, rtol=1e-9, atol=1e-12
        )
        if not same.all():
            first = int(np.flatnonzero(~same)[0])
            trip = int(trip_ids[first])
            leaks.append(Leak(feature, cut, changed, trip, when[trip], before[first], after[first]))
    return leaks


def catalogue_features(
    engine: str, features_conf: FeatureSettings, spark=None, modules: Sequence = (), outputs=None
) -> tuple[Compute, dict[str, pd.Timedelta | None]]:
    """The declared features of `features_conf` (conf's `features:`) on `engine` as a function
    of the trips, and each one's window. `modules` and `outputs` (node -> window) audit further
    Hamilton nodes, each giving a frame with `trip_id` and a column of its own name."""
    from transforms.feature_catalogue import Catalogue
    from transforms.feature_dataflow import build_driver
    from transforms.feature_tables import TABLES

    if engine == "spark" and spark is None:
        raise ValueError("the Spark engine is audited in a Spark session: pass `spark`")
    catalogue = Catalogue.from_conf(features_conf)
    windows = {f.name: pd.Timedelta(f.window) if f.window else None for f in catalogue.features()}
    extra = {node: (pd.Timedelta(w) if w else None) for node, w in (outputs or {}).items()}
    dr = build_driver(engine, features_conf, tuple(modules))
    asked = [*TABLES, *extra]

    def compute(trips: pd.DataFrame) -> pd.DataFrame:
        raw = spark.createDataFrame(trips) if engine == "spark" else trips
        results = dr.execute(asked, inputs={"trips_raw": raw})
        frames = [r.toPandas() if engine == "spark" else r for r in results.values()]
        joined = None
        for frame in frames:
            frame = frame.set_index("trip_id")
            columns = [c for c in frame.columns if c in windows or c in extra]
            joined = frame[columns] if joined is None else joined.join(frame[columns])
        return joined

    return compute, {**windows, **extra}


AT_TRAINING_ROWS, ONLINE = "training rows", "online"  # the windows at the moment asked


def moment_asked_features(
    features_conf: FeatureSettings, where: str, spark=None
) -> tuple[Compute, dict[str, pd.Timedelta | None]]:
    """The temporal tables' windows at the moment asked, at each trip's own time, as a function
    of the trips: computed as training sets compute them (`where` = AT_TRAINING_ROWS, the
    offline store on Spark) or as online lookups do, from each driver's packed arrays
    (`where` = ONLINE; the arrays hold every trip of the driver, later ones included)."""
    from transforms.feature_catalogue import Catalogue
    from transforms.kernels.time_columns import window_micros

    temporal = Catalogue.from_conf(features_conf).temporal()
    plan = {
        name: (how, window_micros(window), of)
        for features in temporal.values()
        for name, (how, window, of) in features.items()
    }
    windows = {
        name: pd.Timedelta(window)
        for features in temporal.values()
        for name, (_, window, _) in features.items()
    }
    if where == AT_TRAINING_ROWS:
        if spark is None:
            raise ValueError("training rows are audited in a Spark session: pass `spark`")
        return (lambda trips: _at_training_rows(spark, trips, plan)), windows
    if where == ONLINE:
        return (lambda trips: _online(trips, plan)), windows
    raise ValueError(f"where must be {AT_TRAINING_ROWS!r} or {ONLINE!r}, not {where!r}")


def _at_training_rows(spark, trips: pd.DataFrame, plan: dict) -> pd.DataFrame:
    from trip_features.offline_store.temporal_windows import with_windows_at_rows

    rows = spark.createDataFrame(trips[["trip_id", "driver_id", "event_timestamp"]])
    events = spark.createDataFrame(trips)
    names = {name: name for name in plan}
    at = with_windows_at_rows(
        rows,
        "trip_id",
        "driver_id",
        "event_timestamp",
        events,
        "driver_id",
        "event_timestamp",
        plan,
        names,
    )
    return at.toPandas().set_index("trip_id")[list(plan)]


def _online(trips: pd.DataFrame, plan: dict) -> pd.DataFrame:
    from transforms.kernels.time_columns import to_micros
    from transforms.kernels.window_kernels import windows_at_times

    ts = to_micros(trips["event_timestamp"])
    measures = sorted({m for _, _, m in plan.values() if m})
    packed_times, packed = {}, {m: {} for m in measures}
    for driver, rows in trips.groupby("driver_id").indices.items():
        order = rows[np.argsort(ts[rows], kind="stable")]
        packed_times[driver] = ts[order].astype("<i8").tobytes()
        for m in measures:
            values = trips[m].to_numpy(dtype=np.float64, na_value=np.nan)[order]
            packed[m][driver] = values.astype("<f8").tobytes()
    drivers = trips["driver_id"].to_numpy()
    values = windows_at_times(
        ts.tolist(),
        [packed_times[d] for d in drivers],
        {m: [packed[m][d] for d in drivers] for m in measures},
        plan,
    )
    return pd.DataFrame(values, index=pd.Index(trips["trip_id"].to_numpy(), name="trip_id"))


def audit_declared(
    features_conf: FeatureSettings,
    engines: Sequence[str],
    spark=None,
    modules: Sequence = (),
    outputs: dict[str, str | None] | None = None,
    cuts: int = 3,
) -> tuple[dict[str, dict[str, pd.Timedelta | None]], dict[str, list[Leak]]]:
    """The declared features (and `outputs` of `modules`) audited on each engine ("pandas",
    "spark", and the windows at the moment asked: AT_TRAINING_ROWS, ONLINE): per engine, the
    features audited with their windows, and the leaks found."""
    trips = adversarial_trips()
    audited, found = {}, {}
    for engine in engines:
        if engine in (AT_TRAINING_ROWS, ONLINE):
            compute, windows = moment_asked_features(features_conf, engine, spark)
        else:
            compute, windows = catalogue_features(engine, features_conf, spark, modules, outputs)
        audited[engine] = windows
        found[engine] = audit(compute, windows, trips, cut_times(trips, cuts))
    return audited, found
