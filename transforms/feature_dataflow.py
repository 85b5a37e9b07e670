"""Wiring: which modules make the feature dataflow, configured by the feature catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hamilton import driver
from hamilton.base import DictResult
from hamilton.execution.graph_functions import topologically_sort_nodes
from hamilton.lifecycle.base import BaseDoCheckEdgeTypesMatch

from transforms import (
    accepted_trips,
    calendar_features,
    driver_windows,
    feature_tables,
    rolling_windows,
    trips_quality,
)
from transforms.feature_catalogue import Catalogue
from trip_features.runtime.settings import FeatureSettings, QualitySettings

FEATURE_MODULES = [accepted_trips, rolling_windows, driver_windows, feature_tables]
# On Spark, calendar features run inside `feature_tables`' `with_columns`; on pandas, as nodes.
TOP_LEVEL_ON = {"spark": [trips_quality], "pandas": [calendar_features]}
ENGINES = tuple(TOP_LEVEL_ON)


def quality_inputs(quality: QualitySettings, now: dt.datetime) -> dict[str, Any]:
    """The Hamilton inputs of the quality rules, from the `quality:` section of the configuration."""
    return {
        "quality_rules": dict(quality.rules),
        "max_trip_km": quality.max_trip_km,
        "future_limit": now + quality.future_slack,
    }


def build_driver(
    engine: str,
    features: FeatureSettings,
    extra_modules: tuple = (),
    adapters: tuple = (),
) -> driver.Driver:
    """The feature dataflow on `engine` ('spark' or 'pandas') for the catalogue in
    `features` (conf's `features:`), plus modules such as a loader."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    catalogue = Catalogue.from_conf(features)
    return (
        driver.Builder()
        .with_modules(*FEATURE_MODULES, *TOP_LEVEL_ON[engine], *extra_modules)
        .with_config({"engine": engine, **catalogue.hamilton_config()})
        .with_adapters(DictResult(), *adapters)
        .build()
    )


CALENDAR_NODES = ("day_of_week", "is_weekend", "hour_of_day")
_calendar_steps: dict[str, list] = {}
_TIME = "event_timestamp"  # what the calendar nodes read


def _steps_of(dr: driver.Driver, outputs: tuple[str, ...]) -> list:
    """The nodes computing `outputs`, in an order where each follows what it needs."""
    needed, _ = dr.graph.get_upstream_nodes(list(outputs))
    return [n for n in topologically_sort_nodes(list(needed)) if not n.user_defined]


class _ColumnsOfOneFrame(BaseDoCheckEdgeTypesMatch):
    """h_spark's `with_columns` convention outside it: a Spark body's DataFrame parameter stands
    for the column of that name, which another body returns as a Column."""

    def do_check_edge_types_match(self, *, type_from: type, type_to: type) -> bool:
        from pyspark.sql import Column, DataFrame

        return type_from is DataFrame and type_to is Column  # (parameter, producer)


def _calendar_steps_on(engine: str) -> list:
    """The calendar nodes' steps on `engine`, resolved from the Hamilton graph once per process."""
    if engine not in _calendar_steps:
        dr = (
            driver.Builder()
            .with_modules(calendar_features)
            .with_config({"engine": engine})
            .with_adapters(DictResult(), _ColumnsOfOneFrame())
            .build()
        )
        _calendar_steps[engine] = _steps_of(dr, CALENDAR_NODES)
    return _calendar_steps[engine]


def calendar_of_times(times: list) -> dict[str, list[int | None]]:
    """The calendar features of each of `times` (datetimes), by the Python bodies of the calendar
    nodes: an on-demand request runs the functions of the Hamilton graph, resolved once per
    process, without a driver execution per request (~1 ms) or a pandas frame (~0.5 ms)."""
    steps = _calendar_steps_on("python")
    out: dict[str, list[int | None]] = {name: [] for name in CALENDAR_NODES}
    for time in times:
        if time is None or time != time:  # None, NaT: no time, no features (as on Spark)
            for name in CALENDAR_NODES:
                out[name].append(None)
            continue
        values = {_TIME: time}
        for step in steps:
            values[step.name] = step.callable(**{k: values[k] for k in step.input_types})
        for name in CALENDAR_NODES:
            out[name].append(values[name])
    return out


def with_calendar_of(frame, time_column: str, outputs: dict[str, str]):
    """`frame` (a Spark DataFrame) with the calendar features of its `time_column` added as
    `outputs[node]`, by the Spark bodies of the calendar nodes: column expressions, no Python
    worker. The nodes read fixed column names, so the frame's own columns of those names are
    set aside while they run and put back after. Like the feature job, this needs a UTC session."""
    from pyspark.sql import functions as F

    steps = _calendar_steps_on("spark")
    read = {_TIME, *(step.name for step in steps)}
    aside = {c: f"__aside_{i}" for i, c in enumerate(frame.columns) if c in read}
    work = frame.select(*[F.col(c).alias(aside.get(c, c)) for c in frame.columns])
    work = work.withColumn(_TIME, F.col(aside.get(time_column, time_column)))
    for step in steps:
        work = work.withColumn(step.name, step.callable(**{k: work for k in step.input_types}))
    kept = [F.col(aside.get(c, c)).alias(c) for c in frame.columns if c not in outputs.values()]
    added = [F.col(node).alias(name) for node, name in outputs.items()]
    return work.select(*kept, *added)
