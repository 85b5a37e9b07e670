"""Point-in-time (as-of) join of entity rows with feature rows, on Spark DataFrames.

For each entity row and each view: the feature row with the same key whose event time is at or
before the entity's time (and, with a ttl, no older than time - ttl); the latest such row wins,
ties on event time broken by the created timestamp, then by a hash of the values, so the answer is
the same on every run. Nothing matches a null key. Every entity row comes out exactly once.

Entity and feature rows of one view are unioned and sorted once by (key, time, kind): the latest
feature row is carried forward to each entity row by a window, instead of joining every entity
row to all earlier feature rows of its key.
"""

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

ROW_ID = "__feast_row"
_TS, _KIND, _CREATED, _FEATURES, _TIEBREAK, _PICKED = (
    "__ts",
    "__kind",
    "__created",
    "__features",
    "__tiebreak",
    "__picked",
)
_FEATURE_ROW, _ENTITY_ROW = 0, 1  # at equal times the feature row sorts first: it is visible


@dataclass(frozen=True)
class ViewJoin:
    """One feature view's part of a request."""

    name: str
    source: DataFrame
    keys: dict[str, str]  # entity column -> source column
    timestamp: str  # source column of the event time
    created: str | None  # source column of the created time, if any
    features: dict[str, str]  # source column -> output column
    ttl: dt.timedelta | None = None


def _key_names(view: ViewJoin) -> list[str]:
    return [f"__key{i}" for i in range(len(view.keys))]


def _view_values(entities: DataFrame, timestamp: str, view: ViewJoin) -> DataFrame:
    """ROW_ID -> the view's output columns, for every entity row (nulls where nothing matches)."""
    keys = _key_names(view)
    entity_rows = entities.select(
        F.col(ROW_ID),
        *[F.col(e).alias(k) for e, k in zip(view.keys, keys, strict=True)],
        F.col(timestamp).cast("timestamp").alias(_TS),
    )
    bounds = entity_rows.agg(F.min(_TS).alias("lo"), F.max(_TS).alias("hi"))
    features = F.struct(*[F.col(src).alias(out) for src, out in view.features.items()])
    feature_rows = view.source.select(
        *[F.col(src).alias(k) for src, k in zip(view.keys.values(), keys, strict=True)],
        F.col(view.timestamp).cast("timestamp").alias(_TS),
        (
            F.col(view.created).cast("timestamp") if view.created else F.lit(None).cast("timestamp")
        ).alias(_CREATED),
        features.alias(_FEATURES),
    ).where(F.col(_TS).isNotNull())
    for k in keys:
        feature_rows = feature_rows.where(F.col(k).isNotNull())
    # Only feature rows an entity row can see: at or before the latest entity time, within ttl.
    feature_rows = feature_rows.crossJoin(F.broadcast(bounds)).where(F.col(_TS) <= F.col("hi"))
    if view.ttl:
        feature_rows = feature_rows.where(F.col(_TS) >= F.col("lo") - _interval(view.ttl))
    feature_rows = feature_rows.drop("lo", "hi")

    union = entity_rows.select(
        *keys,
        _TS,
        F.lit(_ENTITY_ROW).alias(_KIND),
        F.lit(None).cast("timestamp").alias(_CREATED),
        F.lit(None).cast(feature_rows.schema[_FEATURES].dataType).alias(_FEATURES),
        F.col(ROW_ID),
    ).unionByName(
        feature_rows.select(
            *keys,
            _TS,
            F.lit(_FEATURE_ROW).alias(_KIND),
            _CREATED,
            _FEATURES,
            F.lit(None).cast("long").alias(ROW_ID),
        )
    )
    order = (
        Window.partitionBy(*keys)
        .orderBy(F.col(_TS), F.col(_KIND), F.col(_CREATED).asc_nulls_first(), F.xxhash64(_FEATURES))
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    latest = F.last(
        F.when(
            F.col(_KIND) == _FEATURE_ROW,
            F.struct(F.col(_TS).alias("ts"), F.col(_FEATURES).alias("values")),
        ),
        ignorenulls=True,
    ).over(order)
    picked = union.withColumn(_PICKED, latest).where(F.col(_KIND) == _ENTITY_ROW)
    fresh = F.col(f"{_PICKED}.ts").isNotNull()
    if view.ttl:
        fresh = fresh & (F.col(f"{_PICKED}.ts") >= F.col(_TS) - _interval(view.ttl))
    return picked.select(
        ROW_ID,
        *[
            F.when(fresh, F.col(f"{_PICKED}.values.{out}")).alias(out)
            for out in view.features.values()
        ],
    )


def _interval(ttl: dt.timedelta) -> Column:
    return F.expr(f"INTERVAL {int(ttl / dt.timedelta(microseconds=1))} MICROSECONDS")


def point_in_time_join(entities: DataFrame, timestamp: str, views: list[ViewJoin]) -> DataFrame:
    """The entity rows (which must carry a unique ROW_ID) with every view's features added."""
    outputs = [out for view in views for out in view.features.values()]
    clashes = sorted(
        {o for o in outputs if outputs.count(o) > 1} | (set(outputs) & set(entities.columns))
    )
    if clashes:
        raise ValueError(
            f"feature columns {clashes} appear twice in the result: use full feature names "
            "or select fewer features"
        )
    result = entities
    for view in views:
        result = result.join(_view_values(entities, timestamp, view), on=ROW_ID, how="left")
    return result
