"""Windows at the moment asked: a temporal table's features served as of the request (online) and
of the training row (offline), not as of the driver's last trip.

A feature `trips_1h` served through a feature service is the count of the driver's trips with
event time in (t - 1h, t]: t is the training row's timestamp offline, and online the request's
`request_timestamp` (the server's clock when the request sends none; whole seconds, as Feast
carries request times). A trip counts by its event time alone, whenever it arrived, offline and
online alike; online answers are exact for the trips materialized so far.

- `<table>_recent_trips` (online; `driver_activity_recent_trips`): per driver, the event times (microseconds) and measures of
  its trips in the longest window before the materialization's end, sorted by time. The
  project's offline store builds these rows when Feast materializes the view
  (`trip_features.offline_store.temporal_windows.recent_trips`).
- `<table>_now` (on demand; `driver_activity_now`): the windows, from those arrays and the request time, in
  the view's own function (`_windows_at_request`): the same code in the SDK, `jobs.serve` and
  `feast serve`. Offline the project's store computes the same windows at each training row over
  the table's trips in one sort per driver (`trip_features.offline_store.temporal_windows`),
  tested equal.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from feast import Entity, FeatureView, Field, OnDemandFeatureView, RequestSource
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.transformation.python_transformation import PythonTransformation
from feast.types import Bytes, Float64, Int64

from definitions.code_version_tag import CODE_VERSION_TAG, UNKNOWN
from definitions.per_table import per_temporal_table, reading_its_table
from definitions.sources import _table_source
from transforms.feature_catalogue import Catalogue
from transforms.kernels.time_columns import window_micros
from transforms.kernels.window_kernels import windows_at_times
from trip_features.offline_store.temporal_windows import RECENT_TRIPS_TAG, TEMPORAL_TAG

TIMES = "recent_trip_times_us"


def _recent_column(measure: str) -> str:
    return f"recent_{measure}"


def _plan_of(catalogue: Catalogue, table: str) -> dict[str, list]:
    """feature -> [aggregation, window in microseconds, measure or None], for a temporal table."""
    return {
        name: [how, window_micros(window), of]
        for name, (how, window, of) in catalogue.temporal()[table].items()
    }


@reading_its_table("_recent_trips_source", temporal_only=True)
@per_temporal_table("_recent_trips_source")
def recent_trips_source(
    features_path: str,
    features_schema: str | None,
    owner: str,
    catalogue: Catalogue,
    table: str,
) -> SparkSource:
    """The {table} table, read as each driver's recent trips (arrays) when materialized."""
    source = _table_source(features_path, features_schema, table, owner)
    longest = max(window for _, window, _ in _plan_of(catalogue, table).values())
    recipe = {"window_us": longest, "measures": catalogue.carried(table), "times": TIMES}
    source.name = f"{table}_recent_trips_source"
    source.description = (
        f"{table} as each driver's trips of the last {dt.timedelta(microseconds=longest)} before "
        "a materialization's end, for the windows at request time."
    )
    source.tags = {RECENT_TRIPS_TAG: json.dumps(recipe)}
    return source


@per_temporal_table("_recent_trips_view", recent_trips_source="_recent_trips_source")
def recent_trips_view(
    driver_entity: Entity,
    recent_trips_source: SparkSource,
    owner: str,
    catalogue: Catalogue,
    published_code_versions: dict[str, str],
    table: str,
) -> FeatureView:
    """Per driver: its trips in {table} within the longest window before the materialization's end."""
    return FeatureView(
        name=f"{table}_recent_trips",
        entities=[driver_entity],
        ttl=None,  # the windows, computed at request time, say what is recent
        schema=[
            Field(name=TIMES, dtype=Bytes, description="Event times (us), ascending: int64 LE."),
            *[
                Field(
                    name=_recent_column(m),
                    dtype=Bytes,
                    description=f"{m}: float64 LE, NaN if null.",
                )
                for m in catalogue.carried(table)
            ],
        ],
        source=recent_trips_source,
        online=True,
        description=(
            "Each driver's trips in the longest window before the last materialization's end: "
            f"what the windows at request time are computed from ({table}_now)."
        ),
        owner=owner,
        tags={
            RECENT_TRIPS_TAG: table,
            "table": table,
            CODE_VERSION_TAG: published_code_versions.get(table, UNKNOWN),
        },
    )


class _DeclaredPythonTransformation(PythonTransformation):
    """A Python transformation whose fields are declared, not inferred: Feast would infer them by
    running the function on a made-up row (trips of 1970, asked now), whose means are null and
    cannot be typed."""

    declared: list[Field] = []

    def infer_features(self, random_input, singleton=False) -> list[Field]:
        return list(self.declared)


@reading_its_table("_now_view", temporal_only=True)
@per_temporal_table("_now_view", recent_trips_view="_recent_trips_view")
def now_view(
    driver_entity: Entity,
    recent_trips_view: FeatureView,
    trip_request_source: RequestSource,
    owner: str,
    catalogue: Catalogue,
    table: str,
) -> OnDemandFeatureView:
    """The windows of {table} at the request's time, from the driver's recent trips."""
    plan = _plan_of(catalogue, table)
    kinds = {"count": Int64, "mean": Float64, "max": Float64}
    described = {f.name: f.description for f in catalogue.features(table)}
    fields = [Field(name=name, dtype=kinds[how]) for name, (how, _, _) in plan.items()]
    # Feast rebuilds the function from this text, in a namespace of its own: it imports what it
    # uses and carries the plan as a literal.
    name = f"{table}_now"
    source = (
        f"def {name}(inputs):\n"
        "    from definitions.temporal_views import _windows_at_request\n\n"
        f"    return _windows_at_request(inputs, {plan!r})\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - the text above, made here
    transformation = _DeclaredPythonTransformation(namespace[name], source)
    transformation.declared = fields
    return OnDemandFeatureView(
        name=name,
        entities=[driver_entity],
        sources=[recent_trips_view, trip_request_source],
        schema=fields,
        feature_transformation=transformation,
        mode="python",
        description=(
            "Trip counts and distances over windows ending at the moment asked: "
            + "; ".join(f"{n}: {d}" for n, d in described.items())
        ),
        owner=owner,
        tags={"owner": owner, TEMPORAL_TAG: json.dumps({"plan": plan, "table": table})},
    )


def _windows_at_request(inputs: dict[str, list], plan: dict[str, list]) -> dict[str, list]:
    """The on-demand view's function: the windows at each request time over its inputs
    (Feast's columns)."""
    measures = {m for _, _, m in plan.values() if m}
    return windows_at_times(
        [_micros(when) for when in inputs["request_timestamp"]],
        inputs.get(TIMES) or [],
        {m: inputs.get(_recent_column(m)) or [] for m in measures},
        plan,
    )


def _micros(when) -> int:
    """A request time (a datetime, Unix seconds or ISO-8601 text) in microseconds since 1970."""
    from definitions.on_demand_views import _request_time

    moment = _request_time(when)
    if moment is None:
        raise ValueError("request_timestamp is missing: send the time the features are asked for")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
