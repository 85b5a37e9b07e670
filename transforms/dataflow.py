"""Wiring: which modules make the feature dataflow, and which inputs it takes from `conf/`."""

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

FEATURE_MODULES = [trips_contract, rolling_windows, driver_windows, feature_tables]
# On Spark, calendar features run inside `feature_tables`' `with_columns`; on pandas, as nodes.
TOP_LEVEL_ON = {"spark": [trips_quality], "pandas": [calendar_features]}
ENGINES = tuple(TOP_LEVEL_ON)


def feature_inputs(features_conf: dict[str, Any]) -> dict[str, Any]:
    """The Hamilton inputs the features take from the `features:` section of the configuration."""
    counts = features_conf["driver_count_windows"]
    unknown = sorted(set(counts) - {"trips_1h", "trips_24h", "trips_7d"})
    if unknown:
        raise ValueError(
            f"features.driver_count_windows names unknown features {unknown}: "
            "known are trips_1h, trips_24h, trips_7d"
        )
    return {
        "percentile_window": str(features_conf["percentile_window"]),
        "percentile_bucket": str(features_conf["percentile_bucket"]),
        "trips_1h_window": str(counts["trips_1h"]),
        "trips_24h_window": str(counts["trips_24h"]),
        "trips_7d_window": str(counts["trips_7d"]),
        "driver_distance_window": str(features_conf["driver_distance_window"]),
    }


def quality_inputs(quality_conf: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The Hamilton inputs of the quality rules, from the `quality:` section of the configuration."""
    import pandas as pd

    return {
        "quality_rules": dict(quality_conf.get("rules", {})),
        "max_trip_km": float(quality_conf["max_trip_km"]),
        "future_limit": now + pd.Timedelta(quality_conf["future_slack"]).to_pytimedelta(),
    }


def build_driver(
    engine: str, extra_modules: tuple = (), config: dict | None = None
) -> driver.Driver:
    """The feature dataflow on `engine` ('spark' or 'pandas'), plus modules such as a loader."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    config = config or {}
    return (
        driver.Builder()
        .with_modules(*FEATURE_MODULES, *TOP_LEVEL_ON[engine], *extra_modules)
        .with_config({"engine": engine, **config})
        .with_adapters(DictResult())
        .build()
    )
