"""Consistency of what was served with what a training set gives: every logged answer
(definitions.serving_log) rebuilt offline at its request time through the training-set path,
compared feature by feature, and every difference given exactly one cause.

An answer is rebuilt at its request time in whole seconds (the moment online lookups compute
at: Feast carries request times so). Values are equal when both are null or within 1e-9
relative; otherwise the served value is missing (null served, a value offline), extra (served,
null offline) or different. Causes, tried in this order, the first that applies:

- `code changed`: the code version of the view behind the feature at serving time (logged)
  differs from the registered one now: the offline answer is of other code;
- `asked before the online window`: a window asked at a time t whose start is before the
  recent trips the online store held (the longest window before its materialization end):
  online answers are exact for t at or after that end (docs/feast.md);
- `late trip`: a trip of the driver that the offline value counts (event time in the feature's
  window at the request time, or the latest row of a snapshot view) arrived after the request
  (`created` later): online could not know it;
- `not yet materialized`: such a trip has an event time after the view's materialization end at
  serving time (logged): the online store did not hold it yet;
- `ttl edge`: a snapshot feature whose latest row is within a second of the request time minus
  the ttl (online checks the ttl at the exact request time, the rebuild at whole seconds);
- `unexplained`: none of these; a logic difference between the online and offline paths.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

CODE_CHANGED, BEFORE_ONLINE, LATE_TRIP, NOT_MATERIALIZED, TTL_EDGE, UNEXPLAINED = (
    "code changed",
    "asked before the online window",
    "late trip",
    "not yet materialized",
    "ttl edge",
    "unexplained",
)
CAUSES = (CODE_CHANGED, BEFORE_ONLINE, LATE_TRIP, NOT_MATERIALIZED, TTL_EDGE, UNEXPLAINED)
_ROW = "__replay_row"


@dataclass
class FeatureReport:
    """One feature's comparison: counts, and each difference's cause."""

    compared: int = 0
    equal: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    mean_abs_difference: float | None = None
    causes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0))
    examples: dict[str, list[dict]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    """What explains a feature's differences: the view that served it, its table's trips, its
    window (temporal) or ttl (snapshot)."""

    view: str  # the stored view whose rows answered (its code version and watermark)
    window: dt.timedelta | None  # a temporal feature's window
    ttl: dt.timedelta | None  # a snapshot view's ttl
    longest: dt.timedelta | None = None  # the longest window: what the online arrays hold


def replay(spark, store, service, logged) -> tuple[dict[str, FeatureReport], pd.DataFrame]:
    """Each feature of `service` in the `logged` rows (a Spark DataFrame of the serving log)
    compared with a training set at the same moments; and the differences (pandas), one row per
    answer and feature, with their cause."""
    from pyspark.sql import functions as F

    from definitions.on_demand_views import ON_SPARK
    from trip_features.offline_store.spark_store import with_on_demand_features

    asked = F.unix_micros(F.col("request_timestamp").cast("timestamp"))
    rows = (
        logged.withColumn(_ROW, F.monotonically_increasing_id())
        .withColumn("__asked", F.timestamp_seconds(F.floor(asked / 1_000_000)))
        .cache()  # the ids must be the same in the served rows and the rebuilt ones
    )
    entity = rows.select(
        "driver_id",
        F.col("__asked").alias("event_timestamp"),
        F.col("__asked").alias("request_timestamp"),
        _ROW,
    )
    job = store.get_historical_features(entity_df=entity, features=service, full_feature_names=True)
    offline = with_on_demand_features(job, ON_SPARK)
    names = [
        f"{p.name_to_use()}__{f.name}" for p in service.feature_view_projections for f in p.features
    ]
    served = rows.select(
        _ROW,
        "driver_id",
        "request_timestamp",
        "__code_versions",
        "__materialized_until",
        *[F.col(n).cast("double").alias(f"s::{n}") for n in names],
    )
    rebuilt = offline.select(_ROW, *[F.col(n).cast("double").alias(f"o::{n}") for n in names])
    both = served.join(rebuilt, _ROW).cache()
    # Counted in Spark; only the answers with a difference come to the driver, to be explained
    valued, same = {}, {}
    for name in names:
        a, b = F.col(f"s::{name}"), F.col(f"o::{name}")
        null_a, null_b = _null(f"s::{name}"), _null(f"o::{name}")
        valued[name] = ~null_a & ~null_b
        same[name] = (null_a & null_b) | (valued[name] & (F.abs(a - b) <= 1e-12 + 1e-9 * F.abs(b)))
        both = both.withColumn(f"m::{name}", ~same[name])
    counts = both.agg(
        F.count(F.lit(1)).alias("compared"),
        *[
            agg
            for name in names
            for agg in (
                F.sum(same[name].cast("long")).alias(f"equal::{name}"),
                F.sum((_null(f"s::{name}") & ~_null(f"o::{name}")).cast("long")).alias(
                    f"missing::{name}"
                ),
                F.sum((~_null(f"s::{name}") & _null(f"o::{name}")).cast("long")).alias(
                    f"extra::{name}"
                ),
                F.sum((~same[name] & valued[name]).cast("long")).alias(f"different::{name}"),
                F.avg(F.when(valued[name], F.abs(F.col(f"s::{name}") - F.col(f"o::{name}")))).alias(
                    f"mad::{name}"
                ),
            )
        ],
    ).first()
    logged_rows = rows.count()  # cached: the log is read once
    if counts["compared"] != logged_rows:
        raise RuntimeError(f"{counts['compared']} answers rebuilt of {logged_rows} logged")
    reports = {}
    for name in names:
        reports[name] = FeatureReport(
            compared=counts["compared"],
            equal=counts[f"equal::{name}"] or 0,
            missing=counts[f"missing::{name}"] or 0,
            extra=counts[f"extra::{name}"] or 0,
            different=counts[f"different::{name}"] or 0,
            mean_abs_difference=counts[f"mad::{name}"],
        )
    any_difference = F.lit(False)
    for name in names:
        any_difference = any_difference | F.col(f"m::{name}")
    differing = both.where(any_difference).toPandas()
    sources = _sources(store, service)
    differences = []
    for name in names:
        for _, row in differing[differing[f"m::{name}"]].iterrows():
            served, offline = row[f"s::{name}"], row[f"o::{name}"]
            differences.append(
                {
                    "feature": name,
                    "driver_id": int(row["driver_id"]),
                    "request_timestamp": pd.Timestamp(row["request_timestamp"]),
                    "served": None if pd.isna(served) else float(served),
                    "offline": None if pd.isna(offline) else float(offline),
                    "code_versions": row["__code_versions"],
                    "materialized_until": row["__materialized_until"],
                }
            )
    both.unpersist()
    rows.unpersist()
    found = pd.DataFrame(differences)
    if len(found):
        trips = _trips_of(spark, store, found["driver_id"].unique().tolist())
        current = _code_versions(store)
        found["cause"] = [
            _cause(row, sources[row.feature], trips, current) for row in found.itertuples()
        ]
        for row in found.itertuples():
            report = reports[row.feature]
            report.causes[row.cause] += 1
            kept = report.examples.setdefault(row.cause, [])
            if len(kept) < 5:
                kept.append(
                    {
                        "driver_id": row.driver_id,
                        "request_timestamp": row.request_timestamp.isoformat(),
                        "served": row.served,
                        "offline": row.offline,
                    }
                )
    return reports, found


def _null(column: str):
    """A value that is missing: null, or NaN."""
    from pyspark.sql import functions as F

    return F.col(column).isNull() | F.isnan(F.col(column))


def _cause(row, source: _Source, trips: pd.DataFrame, current: dict[str, str]) -> str:
    logged_code = json.loads(row.code_versions or "{}")
    if logged_code.get(source.view) != current.get(source.view):
        return CODE_CHANGED
    t = pd.Timestamp(row.request_timestamp)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    asked = t.floor("s")
    until = json.loads(row.materialized_until or "{}").get(source.view)
    until = pd.Timestamp(until) if until is not None else None
    held_from = until - source.longest if until is not None and source.longest else None
    if source.window is not None and held_from is not None and asked - source.window < held_from:
        return BEFORE_ONLINE  # the arrays held trips from held_from only
    mine = trips[trips["driver_id"] == row.driver_id]
    if source.window is not None:
        counted = mine[
            (mine["event_timestamp"] > asked - source.window) & (mine["event_timestamp"] <= asked)
        ]
    else:
        before = mine[mine["event_timestamp"] <= asked]
        counted = before.nlargest(1, "event_timestamp")
    if (counted["created"] > t).any():
        return LATE_TRIP
    if until is not None and (counted["event_timestamp"] > until).any():
        return NOT_MATERIALIZED
    if source.ttl is not None and len(mine):
        latest = mine[mine["event_timestamp"] <= t]["event_timestamp"].max()
        if pd.notna(latest) and abs(latest - (t - source.ttl)) <= pd.Timedelta("1s"):
            return TTL_EDGE
    return UNEXPLAINED


def _sources(store, service) -> dict[str, _Source]:
    """Feature (`view__feature`) -> what explains its differences."""
    from feast import FeatureView

    from trip_features.offline_store.temporal_windows import TEMPORAL_TAG, plan_of_view

    found = {}
    for projection in service.feature_view_projections:
        view = store.registry.get_any_feature_view(projection.name, store.project, allow_cache=True)
        for feature in projection.features:
            name = f"{projection.name_to_use()}__{feature.name}"
            if TEMPORAL_TAG in view.tags:
                plan = plan_of_view(view)
                found[name] = _Source(
                    view=next(iter(view.source_feature_view_projections)),
                    window=dt.timedelta(microseconds=plan[feature.name][1]),
                    ttl=None,
                    longest=dt.timedelta(microseconds=max(w for _, w, _ in plan.values())),
                )
            elif isinstance(view, FeatureView):
                ttl = view.ttl if view.ttl and view.ttl > dt.timedelta(0) else None
                found[name] = _Source(view.name, None, ttl)
            else:  # of the request alone: no rows behind it
                found[name] = _Source(view.name, None, None)
    return found


def _code_versions(store) -> dict[str, str]:
    from definitions.code_version_tag import CODE_VERSION_TAG

    views = store.registry.list_feature_views(store.project, allow_cache=True)
    return {v.name: v.tags.get(CODE_VERSION_TAG) for v in views}


def _trips_of(spark, store, drivers: list[int]) -> pd.DataFrame:
    """The drivers' trips (event and created times) of the temporal table the windows read."""
    from pyspark.sql import functions as F

    view = store.registry.get_feature_view("driver_activity", store.project, allow_cache=True)
    path = view.batch_source.path
    frame = spark.read.parquet(path) if path else spark.table(view.batch_source.table)
    picked = frame.where(F.col("driver_id").isin(drivers)).select(
        "driver_id", "event_timestamp", "created"
    )
    trips = picked.toPandas()
    for column in ("event_timestamp", "created"):
        trips[column] = pd.to_datetime(trips[column], utc=True)
    return trips


def summary(reports: dict[str, dict[str, FeatureReport]]) -> dict[str, Any]:
    """The report as JSON: per service and feature, and the totals gated on."""
    compared = sum(r.compared for s in reports.values() for r in s.values())
    equal = sum(r.equal for s in reports.values() for r in s.values())
    causes = dict.fromkeys(CAUSES, 0)
    for service in reports.values():
        for report in service.values():
            for cause, count in report.causes.items():
                causes[cause] += count
    return {
        "compared": compared,
        "equal": equal,
        "match_rate": equal / compared if compared else None,
        "causes": causes,
        "services": {
            name: {feature: vars(report) for feature, report in features.items()}
            for name, features in reports.items()
        },
    }
