"""The feature catalogue: every feature declared once, in `conf/` (`features.tables`).

A declaration names the feature, its table, its kind (and aggregation, window, input column), its
checks and, if the generated one will not do, its description. Everything else derives from it: the
Hamilton nodes of both engines (`hamilton_config`), the output checks
(`trip_features.quality.checks.table_checks`), the Feast fields (`definitions.feature_views`), the
README's feature table (`markdown`, kept current by `python -m jobs.catalogue --write-readme`) and
the tests' expectations. Adding a per-driver window is one declaration:

    features.tables.driver_activity.features.trips_30m: {kind: driver_window, aggregation: count,
                                                         window: 30min}

Names must not lie: a name (of a feature or a table) that ends in a duration, like `_30m` or
`_24h`, must carry the window of its feature(s).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from transforms.kernels.time_columns import DAY_US, window_micros
from trip_features.runtime.durations import parse_duration
from trip_features.runtime.settings import FeatureDeclaration, FeatureSettings, TableDeclaration

# table -> the kinds of feature its Hamilton function can assemble (transforms/feature_tables.py)
TABLE_KINDS = {
    "trips_stats_3h": ("calendar", "rolling_percentile"),
    "driver_activity": ("driver_window",),
}
CALENDAR = {
    "day_of_week": "Day of the week of the trip, 0 = Monday ... 6 = Sunday (UTC).",
    "is_weekend": "1 when the trip starts on a Saturday or Sunday (UTC), else 0.",
    "hour_of_day": "Hour of the day the trip starts, 0-23 (UTC).",
}
AGGREGATIONS = ("count", "mean", "max")  # what transforms.kernels.window_kernels computes
MEASURES = ("trip_dist",)  # columns a window can aggregate
KEY_COLUMNS = ("trip_id", "driver_id", "event_timestamp", "created")
TEMPORAL, SNAPSHOT = "temporal", "snapshot"
_DURATION_SUFFIX = re.compile(r"_(\d+(?:s|sec|m|min|h|d))$")


class CatalogueError(ValueError):
    """A feature declaration in conf/ that cannot be computed as written."""


@dataclass(frozen=True)
class Feature:
    """One declared feature."""

    name: str
    table: str
    kind: str
    dtype: str  # Spark's simpleString: int, bigint, double
    description: str
    window: str | None = None
    aggregation: str | None = None
    of: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    """One declared feature service."""

    name: str
    description: str
    tables: tuple[str, ...]
    request_calendar: bool = False
    owner: str | None = None


@dataclass(frozen=True)
class Catalogue:
    """Every declared feature, by table, with the shared settings of their computation."""

    tables: dict[str, tuple[Feature, ...]]
    descriptions: dict[str, str]
    percentile_bucket: str
    # table -> temporal (served as of the moment asked) | snapshot (the as-of row)
    accuracy: dict[str, str] = field(default_factory=dict)
    # table -> how long a snapshot row is served after its time (None: for ever), its owner
    ttl: dict[str, dt.timedelta | None] = field(default_factory=dict)
    owners: dict[str, str | None] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    @classmethod
    def from_conf(cls, declared: FeatureSettings) -> Catalogue:
        """Checks what conf's `features:` (its form checked when loaded) declares; every problem
        is named with what to write instead."""
        unknown = sorted(set(declared.tables) - set(TABLE_KINDS))
        if unknown:
            raise CatalogueError(
                f"features.tables: unknown table(s) {unknown}; the tables are {sorted(TABLE_KINDS)}"
                " (a new table needs its own function in transforms/feature_tables.py)"
            )
        tables, descriptions, accuracy, ttl, owners = {}, {}, {}, {}, {}
        for table in TABLE_KINDS:
            spec = declared.tables.get(table) or TableDeclaration()
            ttl[table] = spec.ttl
            owners[table] = spec.owner
            items = spec.features.items()
            tables[table] = tuple(_feature(table, name, body) for name, body in items)
            descriptions[table] = spec.description or table
            accuracy[table] = _accuracy(table, spec.accuracy, tables[table])
        services = {
            name: Service(name, s.description, tuple(s.tables), s.request_calendar, s.owner)
            for name, s in declared.services.items()
        }
        catalogue = cls(
            tables, descriptions, declared.percentile_bucket, accuracy, ttl, owners, services
        )
        catalogue._check()
        return catalogue

    def features(self, table: str | None = None) -> tuple[Feature, ...]:
        if table is not None:
            return self.tables[table]
        return tuple(f for features in self.tables.values() for f in features)

    def of_kind(self, kind: str) -> tuple[Feature, ...]:
        return tuple(f for f in self.features() if f.kind == kind)

    def columns(self, table: str) -> list[str]:
        """The table's columns, in order: keys, the measures it carries, its features."""
        return [*KEY_COLUMNS, *self.carried(table), *(f.name for f in self.tables[table])]

    def carried(self, table: str) -> list[str]:
        """The trip columns a temporal table carries: what its windows aggregate, so a window
        can be computed at any moment from the table's rows (one per trip)."""
        if self.accuracy.get(table) != TEMPORAL:
            return []
        return sorted({f.of for f in self.tables[table] if f.of})

    def temporal(self) -> dict[str, dict[str, tuple[str, str, str | None]]]:
        """Temporal table -> feature -> (aggregation, window, input column)."""
        return {
            table: {f.name: (f.aggregation, f.window, f.of) for f in self.tables[table]}
            for table, accuracy in self.accuracy.items()
            if accuracy == TEMPORAL
        }

    def temporal_tables(self) -> list[str]:
        return [table for table, accuracy in self.accuracy.items() if accuracy == TEMPORAL]

    def hamilton_config(self) -> dict[str, Any]:
        """What the Hamilton dataflows are configured with: the nodes of both engines, and the
        Feast objects of the definitions, follow it."""
        return {
            "hamilton.enable_power_user_mode": True,  # @resolve: nodes made from the catalogue
            "table_features": {t: [f.name for f in fs] for t, fs in self.tables.items()},
            "table_carried": {t: self.carried(t) for t in self.tables},
            "percentile_windows": {f.name: f.window for f in self.of_kind("rolling_percentile")},
            "percentile_bucket": self.percentile_bucket,
            "driver_windows": {
                f.name: (f.aggregation, f.window) for f in self.of_kind("driver_window")
            },
            "temporal_tables": self.temporal_tables(),
            "any_temporal_table": bool(self.temporal_tables()),
            "table_accuracy": dict(self.accuracy),
            "services": {s.name: (s.tables, s.request_calendar) for s in self.services.values()},
            "any_service": bool(self.services),
        }

    def history(self) -> dt.timedelta:
        """The longest window: how far before the first date the trips must be read."""
        windows = [window_micros(f.window) for f in self.features() if f.window]
        return dt.timedelta(microseconds=max(windows, default=0))

    def markdown(self) -> str:
        """The README's feature table."""
        rows = [
            "| table | feature | type | window | served | meaning |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for feature in self.features():
            rows.append(
                f"| {feature.table} | `{feature.name}` | {feature.dtype} | "
                f"{feature.window or '-'} | {self.accuracy[feature.table]} | "
                f"{feature.description} |"
            )
        return "\n".join(rows)

    def _check(self) -> None:
        names = [f.name for f in self.features()]
        repeated = sorted(
            {n for n in names if names.count(n) > 1} | (set(names) & set(KEY_COLUMNS))
        )
        if repeated:
            raise CatalogueError(f"features.tables: {repeated} declared twice or named like a key")
        for table, features in self.tables.items():
            if not features:
                raise CatalogueError(f"features.tables.{table} declares no feature: add one")
            windows = {f.window for f in features if f.window}
            _name_follows(f"table {table}", table, windows)
        for service in self.services.values():
            unknown = sorted(set(service.tables) - set(self.tables))
            if unknown:
                raise CatalogueError(
                    f"features.services.{service.name}.tables: {unknown} not declared; the tables "
                    f"are {sorted(self.tables)}"
                )
            if len(set(service.tables)) != len(service.tables):
                raise CatalogueError(f"features.services.{service.name}.tables repeats a table")
        taken = sorted(set(self.services) & (set(self.tables) | set(names)))
        if taken:
            raise CatalogueError(
                f"features.services: {taken} named like a table or a feature: rename the service "
                "(models ask for it by this name, e.g. driver_activity_v1)"
            )
        bucket = window_micros(self.percentile_bucket)
        if bucket > DAY_US or DAY_US % bucket:
            raise CatalogueError(
                f"features.percentile_bucket {self.percentile_bucket!r} must divide a day (24h, "
                "6h, 1h, 20min, ...): each date's buckets are then ranked and written by one task"
            )


def _accuracy(table: str, given: str | None, features: tuple[Feature, ...]) -> str:
    """A table's accuracy: temporal by default where every feature is a driver window (a window
    can be computed at any moment), else snapshot; temporal only where it can be."""
    windows_only = bool(features) and all(f.kind == "driver_window" for f in features)
    accuracy = given or (TEMPORAL if windows_only else SNAPSHOT)  # given: one of the two
    if accuracy == TEMPORAL and not windows_only:
        raise CatalogueError(
            f"features.tables.{table}.accuracy temporal: only tables of driver windows can be "
            "computed at the moment asked; make it snapshot"
        )
    return accuracy


def _feature(table: str, name: str, body: FeatureDeclaration) -> Feature:
    where = f"features.tables.{table}.features.{name}"
    if body.kind not in TABLE_KINDS[table]:
        raise CatalogueError(
            f"{where}: kind {body.kind!r} cannot go in {table}; use {TABLE_KINDS[table]}"
        )
    checks = body.checks.model_dump(exclude_defaults=True)
    window, aggregation, of = _computation(where, body.kind, name, body)
    dtype = {"calendar": "int", "rolling_percentile": "double"}.get(body.kind) or (
        "bigint" if aggregation == "count" else "double"
    )
    description = body.description or _describe(body.kind, name, window, aggregation, of)
    return Feature(name, table, body.kind, dtype, description, window, aggregation, of, checks)


def _computation(where: str, kind: str, name: str, body: FeatureDeclaration) -> tuple:
    """(window, aggregation, input column) of a declaration, checked."""
    if kind == "calendar":
        if name not in CALENDAR:
            raise CatalogueError(f"{where}: calendar features are {sorted(CALENDAR)}")
        return None, None, None
    window = body.window or ""
    try:
        window_micros(window)
    except ValueError as err:
        raise CatalogueError(f"{where}.window: {err}") from err
    _name_follows(f"feature {name}", name, {window})
    aggregation = body.aggregation if kind == "driver_window" else "percentile"
    if aggregation not in (*AGGREGATIONS, "percentile"):
        raise CatalogueError(f"{where}.aggregation {aggregation!r}: choose one of {AGGREGATIONS}")
    of = body.of if body.of or aggregation == "count" else "trip_dist"
    if aggregation == "count" and of is not None:
        raise CatalogueError(f"{where}: a count counts trips; remove `of: {of}`")
    if aggregation != "count" and of not in MEASURES:
        raise CatalogueError(f"{where}.of {of!r}: windows aggregate one of {MEASURES}")
    return window, aggregation, of


def _name_follows(what: str, name: str, windows: set[str]) -> None:
    """A name ending in a duration must carry its window (a table: the window of a feature)."""
    match = _DURATION_SUFFIX.search(name)
    if match is None:
        return
    said = parse_duration(match.group(1), f"{what}'s suffix")
    if not any(parse_duration(w, "window") == said for w in windows):
        raise CatalogueError(
            f"{what} says {match.group(1)} but its window is {sorted(windows) or 'none'}: rename "
            "it to carry its window, or change the window"
        )


def _describe(kind: str, name: str, window: str | None, aggregation: str | None, of) -> str:
    if kind == "calendar":
        return CALENDAR[name]
    span = _human(window)
    if kind == "rolling_percentile":
        return (
            f"Percentile rank (average method) of the trip's {of} among all trips at or before it "
            f"in the last {span}; null when the {of} is null."
        )
    if aggregation == "count":
        return f"Trips of the driver in the {span} up to the moment asked (a trip then included)."
    word = {"mean": "Mean", "max": "Largest"}[aggregation]
    return (
        f"{word} {of} of the driver's trips in the {span} up to the moment asked (null values "
        "skipped)."
    )


_UNITS = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour", "d": "day"}


def _human(window: str) -> str:
    """'1h' -> '1 hour', '24h' -> '24 hours', '7d' -> '7 days', '30min' -> '30 minutes'."""
    match = re.fullmatch(r"(\d+)\s*([a-z]+)", window.strip())
    if match and match.group(2) in _UNITS:
        count, unit = int(match.group(1)), _UNITS[match.group(2)]
        return f"{count} {unit}{'s' if count != 1 else ''}"
    return window
