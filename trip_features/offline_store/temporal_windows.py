"""Temporal windows in the offline store: a feature view's windows at each training row's own time,
and each driver's recent trips for the online windows at request time (definitions.temporal_views).

At training rows: the entity rows and the table's trips (one row per trip) are unioned and sorted
once per driver; the window kernels run with the entity rows as queries that count no row
(`transforms.kernels.window_kernels.windows_at_queries`), so each row gets the aggregate over its
driver's trips in (t - w, t] exactly, without a per-row scan. Entity rows with a null key get
nulls; a driver without trips then gets counts of 0 and null means.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from trip_features.offline_store.source_size import known_small

# What the project's definitions tag, and this store reads (definitions.temporal_views).
RECENT_TRIPS_TAG = "recent_trips"  # on a source: build each driver's recent trips as arrays
TEMPORAL_TAG = "temporal_windows"  # on an on-demand view: computed here at each training row
_KEY, _TS, _QUERY, _ROW = "__key", "__ts_us", "__query", "__row"


def plan_of_view(view) -> dict[str, tuple[str, int, str | None]]:
    """A temporal on-demand view's plan: feature -> (aggregation, window us, measure)."""
    return {name: tuple(spec) for name, spec in json.loads(view.tags[TEMPORAL_TAG])["plan"].items()}


# Up to this many entity rows, over a source of local files under SMALL_SOURCE_BYTES, the windows
# are computed in the driver (the rows and trips collected as Arrow, the online path's own
# windows_at_times): a fresh process then starts no Python worker, which costs it about 2 s
# (docs/benchmark-log.md). Larger inputs run in Spark (the Arrow UDF below).
IN_DRIVER_ROWS = 20_000


def with_windows_at_rows(
    rows: DataFrame,
    row_id: str,
    key: str,
    timestamp: str,
    trips: DataFrame,
    trip_key: str,
    trip_timestamp: str,
    plan: dict[str, tuple[str, int, str | None]],
    outputs: dict[str, str],
) -> DataFrame:
    """`rows` (each with a unique `row_id`) with each feature of `plan` at the row's time, over
    `trips` of the same key, named by `outputs` (feature -> column)."""
    if in_driver(rows, trips):
        collected = rows.limit(IN_DRIVER_ROWS + 1).toArrow()  # all of them, if few enough
        if collected.num_rows <= IN_DRIVER_ROWS:
            return _in_driver(
                rows, collected, key, timestamp, trips, trip_key, trip_timestamp, plan, outputs
            )
    # larger inputs: entity rows and trips unioned, sorted per key, an Arrow UDF
    from pyspark.sql.functions import arrow_udf

    from transforms.kernels.arrow_columns import by_whole_runs, nan_as_null
    from transforms.kernels.window_kernels import windows_at_queries

    measures = sorted({m for _, _, m in plan.values() if m})
    x = {m: f"__x{i}" for i, m in enumerate(measures)}
    queries = rows.where(F.col(key).isNotNull() & F.col(timestamp).isNotNull()).select(
        F.col(key).cast("bigint").alias(_KEY),
        F.unix_micros(F.col(timestamp).cast("timestamp")).alias(_TS),
        F.lit(1).cast("tinyint").alias(_QUERY),
        F.col(row_id).cast("bigint").alias(_ROW),
        *[F.lit(None).cast("double").alias(c) for c in x.values()],
    )
    events = trips.where(F.col(trip_key).isNotNull() & F.col(trip_timestamp).isNotNull()).select(
        F.col(trip_key).cast("bigint").alias(_KEY),
        F.unix_micros(F.col(trip_timestamp).cast("timestamp")).alias(_TS),
        F.lit(0).cast("tinyint").alias(_QUERY),
        F.lit(None).cast("bigint").alias(_ROW),
        *[F.col(m).cast("double").alias(c) for m, c in x.items()],
    )
    names = list(plan)
    kinds = {name: pa.int64() if plan[name][0] == "count" else pa.float64() for name in names}
    struct = pa.struct([(f"f{i}", kinds[n]) for i, n in enumerate(names)])
    ddl = ", ".join(
        f"f{i}: {'bigint' if kinds[n] == pa.int64() else 'double'}" for i, n in enumerate(names)
    )

    def windows(group, ts_us, is_query, *measured) -> pa.Array:
        values = dict(zip(measures, measured, strict=True))
        got: dict[str, np.ndarray] = {}
        for measure in {m for _, _, m in plan.values()}:  # one sort per measure
            sub = {n: (h, w) for n, (h, w, m) in plan.items() if m == measure}
            x_values = values[measure] if measure else np.zeros(len(group))
            got |= windows_at_queries(group, ts_us, is_query, x_values, sub)
        columns = [
            pa.array(got[n].astype(np.int64)) if plan[n][0] == "count" else nan_as_null(got[n])
            for n in names
        ]
        return pa.StructArray.from_arrays(columns, fields=list(struct))

    @arrow_udf(f"struct<{ddl}>")
    def windowed(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        yield from by_whole_runs(batches, windows)

    partitions = int(rows.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    laid_out = queries.unionByName(events).repartition(partitions, _KEY).sortWithinPartitions(_KEY)
    # Not deterministic for Spark: a row's values depend on its neighbours (no filter below it).
    computed = windowed.asNondeterministic()(_KEY, _TS, _QUERY, *x.values())
    at_rows = (
        laid_out.withColumn("__w", computed)
        .where(F.col(_QUERY) == 1)
        .select(
            F.col(_ROW), *[F.col("__w")[f"f{i}"].alias(outputs[n]) for i, n in enumerate(names)]
        )
    )
    joined = rows.join(at_rows, rows[row_id] == at_rows[_ROW], "left").drop(_ROW)
    # Rows whose key or time is null were no query: their windows stay null, not 0.
    return joined


def in_driver(rows: DataFrame, trips: DataFrame) -> bool:
    """Whether the windows may be computed in the driver: a classic session, trips from local
    files under SMALL_SOURCE_BYTES, and rows from such files or from memory (then at most
    IN_DRIVER_ROWS + 1 of them are collected to see)."""
    if type(rows.sparkSession).__module__.startswith("pyspark.sql.connect"):
        return False  # collecting brings the rows to the client, not to a driver next to them
    return IN_DRIVER_ROWS > 0 and known_small(trips) and known_small(rows, in_memory_counts=True)


def _in_driver(rows, collected, key, timestamp, trips, trip_key, trip_timestamp, plan, outputs):
    """The windows of the collected rows, by the online path's own function over each key's
    trips (sorted, packed as the online store keeps them), back as a DataFrame."""
    import pyarrow.compute as pc

    from transforms.kernels.window_kernels import windows_at_times

    measures = sorted({m for _, _, m in plan.values() if m})
    keys = pc.unique(collected[key]).drop_null()
    ts_us = F.unix_micros(F.col(trip_timestamp).cast("timestamp"))
    picked = trips.where(F.col(trip_key).isin(keys.to_pylist()) & ts_us.isNotNull()).select(
        F.col(trip_key).cast("bigint").alias("k"),
        ts_us.alias("t"),
        *[F.col(m).cast("double").alias(f"m{i}") for i, m in enumerate(measures)],
    )
    frame = picked.toArrow().to_pandas()
    frame = frame.sort_values(["k", "t"], kind="stable")
    packed_times, packed = {}, {m: {} for m in measures}
    for k, group in frame.groupby("k", sort=False):
        packed_times[k] = group["t"].to_numpy(np.int64).astype("<i8").tobytes()
        for i, m in enumerate(measures):
            values = group[f"m{i}"].to_numpy(np.float64, na_value=np.nan)
            packed[m][k] = values.astype("<f8").tobytes()
    key_values = collected[key].to_pylist()
    times = pc.cast(pc.cast(collected[timestamp], pa.timestamp("us", tz="UTC")), pa.int64())
    asked = [
        i
        for i, (k, t) in enumerate(zip(key_values, times.to_pylist(), strict=True))
        if k is not None and t is not None
    ]  # a row without a key or time is no query
    at = times.to_pylist()
    values = windows_at_times(
        [at[i] for i in asked],
        [packed_times.get(key_values[i]) for i in asked],
        {m: [packed[m].get(key_values[i]) for i in asked] for m in measures},
        plan,
    )
    table = collected
    for name, (how, _, _) in plan.items():
        column = [None] * collected.num_rows
        for i, value in zip(asked, values[name], strict=True):
            column[i] = value
        kind = pa.int64() if how == "count" else pa.float64()
        table = table.append_column(outputs[name], pa.array(column, type=kind))
    return rows.sparkSession.createDataFrame(table)


def recent_trips(
    source: DataFrame,
    key: str,
    timestamp: str,
    created: str | None,
    recipe: dict,
    end: dt.datetime,
) -> DataFrame:
    """Per key: its trips with time in (end - window, end], sorted by time, as packed arrays
    (times in microseconds, int64; measures float64, null as NaN), stamped with its latest
    trip's event and created times.
    What `transforms.kernels.window_kernels.windows_at_times` computes the online windows from."""
    window = int(recipe["window_us"])
    end_us = (end.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
        microseconds=1
    )
    ts_us = F.unix_micros(F.col(timestamp).cast("timestamp"))
    measures = list(recipe["measures"])
    trip = F.struct(
        ts_us.alias("t"),
        *[
            F.coalesce(F.col(m).cast("double"), F.lit(float("nan"))).alias(f"m{i}")
            for i, m in enumerate(measures)
        ],
    )
    recent = source.where(F.col(key).isNotNull() & (ts_us <= end_us) & (ts_us > end_us - window))
    latest_created = F.max(F.col(created).cast("timestamp")) if created else F.lit(None)
    grouped = recent.groupBy(key).agg(
        F.max(F.col(timestamp).cast("timestamp")).alias(timestamp),
        latest_created.alias(created or "__created"),
        F.array_sort(F.collect_list(trip)).alias("__trips"),
    )
    packed = {"bigint": _packed("<i8"), "double": _packed("<f8")}
    return grouped.select(
        key,
        timestamp,
        *([created] if created else []),
        packed["bigint"](F.col("__trips")["t"]).alias(recipe["times"]),
        *[
            packed["double"](F.col("__trips")[f"m{i}"]).alias(f"recent_{m}")
            for i, m in enumerate(measures)
        ],
    )


def _packed(dtype: str):
    """A Spark function packing an array column into bytes of `dtype` (little-endian): what the
    online store keeps, read back with numpy.frombuffer at no cost (100,000 trips decoded from a
    protobuf list took 26 ms a request)."""
    from pyspark.sql.functions import arrow_udf

    @arrow_udf("binary")
    def pack(lists: pa.Array) -> pa.Array:
        values = lists.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        offsets = lists.offsets.to_numpy()
        return pa.array(
            [
                None if not lists[i].is_valid else values[offsets[i] : offsets[i + 1]].tobytes()
                for i in range(len(lists))
            ],
            type=pa.binary(),
        )

    return pack
