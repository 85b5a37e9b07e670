"""On-demand features of the request itself, computed by the same code as the batch features."""

import datetime as dt

import numpy as np
from feast import Entity, Field, OnDemandFeatureView, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Int32, UnixTimestamp
from hamilton.function_modifiers import tag

from transforms.feature_dataflow import CALENDAR_NODES, with_calendar_of

_REQUEST_TIME = "request_timestamp"


def trip_request_source(owner: str) -> RequestSource:
    """The time a prediction is asked for, sent with each request."""
    return RequestSource(
        name="trip_request",
        schema=[Field(name=_REQUEST_TIME, dtype=UnixTimestamp)],
        description="The time a prediction is asked for, sent with each request.",
        owner=owner,
    )


def _request_time(value) -> dt.datetime | None:
    """A request's time as sent: a datetime (the SDK), Unix seconds (a number in `feast serve`'s
    JSON) or an ISO-8601 text; anything else is refused with what to send."""
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(
        f"request_timestamp {value!r} is not a time: send a datetime, Unix seconds or an "
        "ISO-8601 text such as 2026-01-31T12:00:00+00:00"
    )


@tag(lineage_reads=list(CALENDAR_NODES))  # the transforms its function runs
def request_calendar_view(
    driver_entity: Entity, trip_request_source: RequestSource, owner: str
) -> OnDemandFeatureView:
    """Calendar features of the request time, by the Hamilton nodes of transforms.calendar_features."""

    @on_demand_feature_view(
        name="request_calendar",
        entities=[driver_entity],  # without one, Feast's online path looks for a dummy entity
        sources=[trip_request_source],
        # No field descriptions: Feast infers a Python-mode view's fields by running it and
        # refuses declared fields that differ from the inferred ones, descriptions included.
        schema=[Field(name=f"request_{name}", dtype=Int32) for name in CALENDAR_NODES],
        mode="python",
        description="Calendar features of the request time (UTC), by transforms.calendar_features.",
        owner=owner,
        tags={"owner": owner},  # Feast's UI shows this view's tags, not its owner
    )
    def request_calendar(inputs: dict[str, list]) -> dict[str, list]:
        # Imports inside: Feast 0.67 rebuilds this function from its source text in a namespace
        # of its own (feast.transformation.udf_rehydrate), where module globals do not exist.
        import numpy as np

        from definitions.on_demand_views import _request_time
        from transforms.feature_dataflow import calendar_of_times

        calendar = calendar_of_times([_request_time(v) for v in inputs["request_timestamp"]])
        # numpy int32: Feast infers a Python-mode view's field types from its values (Int32)
        return {
            f"request_{name}": [None if v is None else np.int32(v) for v in values]
            for name, values in calendar.items()
        }

    return request_calendar


def _request_calendar_on_spark(frame, outputs: dict[str, str]):
    """The view's features for a training set, by the Spark bodies of the same calendar nodes
    (no Python worker); None where they would not equal the Python bodies the view runs online:
    a session zone other than UTC, or request times that are not timestamps (then the view's
    own function runs). `outputs`: the view's feature name -> the result's column name."""
    zone = frame.sparkSession.conf.get("spark.sql.session.timeZone")
    kind = frame.schema[_REQUEST_TIME].dataType.typeName() if _REQUEST_TIME in frame.columns else ""
    if zone not in ("UTC", "Etc/UTC", "Z", "+00:00") or kind not in ("timestamp", "timestamp_ntz"):
        return None
    nodes = {f"request_{name}": name for name in CALENDAR_NODES}
    return with_calendar_of(frame, _REQUEST_TIME, {nodes[f]: out for f, out in outputs.items()})


# On-demand view name -> how a training set computes it on Spark
# (trip_features.offline_store.spark_store).
ON_SPARK = {"request_calendar": _request_calendar_on_spark}
