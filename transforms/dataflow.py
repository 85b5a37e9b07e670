"""Wiring: which modules make the feature dataflow, configured by the feature catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hamilton import driver
from hamilton.base import DictResult

from transforms import (
    calendar_features,
    driver_windows,
    feature_tables,
    rolling_windows,
    trips_contract,
    trips_quality,
)
from transforms.catalogue import Catalogue

FEATURE_MODULES = [trips_contract, rolling_windows, driver_windows, feature_tables]
# On Spark, calendar features run inside `feature_tables`' `with_columns`; on pandas, as nodes.
TOP_LEVEL_ON = {"spark": [trips_quality], "pandas": [calendar_features]}
ENGINES = tuple(TOP_LEVEL_ON)


def quality_inputs(quality_conf: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The Hamilton inputs of the quality rules, from the `quality:` section of the configuration."""
    import pandas as pd

    return {
        "quality_rules": dict(quality_conf.get("rules", {})),
        "max_trip_km": float(quality_conf["max_trip_km"]),
        "future_limit": now + pd.Timedelta(quality_conf["future_slack"]).to_pytimedelta(),
    }


def build_driver(
    engine: str,
    features_conf: dict[str, Any],
    extra_modules: tuple = (),
    adapters: tuple = (),
) -> driver.Driver:
    """The feature dataflow on `engine` ('spark' or 'pandas') for the catalogue in
    `features_conf` (conf's `features:`), plus modules such as a loader."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    catalogue = Catalogue.from_conf(features_conf)
    return (
        driver.Builder()
        .with_modules(*FEATURE_MODULES, *TOP_LEVEL_ON[engine], *extra_modules)
        .with_config({"engine": engine, **catalogue.hamilton_config()})
        .with_adapters(DictResult(), *adapters)
        .build()
    )


CALENDAR_NODES = ("day_of_week", "is_weekend", "hour_of_day")
_calendar_driver: driver.Driver | None = None


def calendar_of(times) -> dict[str, Any]:
    """The calendar features of `times` (a pandas Series), by the pandas calendar nodes: the
    on-demand path runs the same Hamilton functions as the batch pandas engine."""
    global _calendar_driver
    if _calendar_driver is None:  # built once per process: an online request pays ~0.3 ms
        _calendar_driver = (
            driver.Builder()
            .with_modules(calendar_features)
            .with_config({"engine": "pandas"})
            .with_adapters(DictResult())
            .build()
        )
    return _calendar_driver.execute(list(CALENDAR_NODES), inputs={"event_timestamp": times})


def lineage_of(features_conf: dict[str, Any], node: str) -> list[tuple[str, str]]:
    """(node, what it depends on) for every step upstream of `node`, down to the raw trips."""
    dr = build_driver("pandas", features_conf)
    known = {v.name for v in dr.list_available_variables()}
    if node not in known:
        raise ValueError(f"{node!r} is not in the feature dataflow; known: {sorted(known)}")
    upstream = dr.what_is_upstream_of(node)
    return sorted(
        (n.name, dependency) for n in upstream for dependency in sorted(n.required_dependencies)
    )
