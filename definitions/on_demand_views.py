"""On-demand features of the request itself, computed by the same code as the batch features."""

import pandas as pd
from feast import Entity, Field, OnDemandFeatureView, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Int32, UnixTimestamp

from transforms import calendar_features


def trip_request_source() -> RequestSource:
    """The time a prediction is asked for, sent with each request."""
    return RequestSource(
        name="trip_request", schema=[Field(name="request_timestamp", dtype=UnixTimestamp)]
    )


def request_calendar_view(
    driver_entity: Entity, trip_request_source: RequestSource
) -> OnDemandFeatureView:
    """Calendar features of the request time, by transforms.calendar_features."""

    @on_demand_feature_view(
        name="request_calendar",
        entities=[driver_entity],  # without one, Feast's online path looks for a dummy entity
        sources=[trip_request_source],
        schema=[
            Field(name="request_day_of_week", dtype=Int32),
            Field(name="request_is_weekend", dtype=Int32),
            Field(name="request_hour_of_day", dtype=Int32),
        ],
        mode="pandas",
        description="Calendar features of the request time (UTC), by transforms.calendar_features.",
    )
    def request_calendar(inputs: pd.DataFrame) -> pd.DataFrame:
        from transforms import calendar_features as calendar

        when = inputs["request_timestamp"]
        day = calendar.day_of_week__pandas(when)
        return pd.DataFrame(
            {
                "request_day_of_week": day.to_numpy(),
                "request_is_weekend": calendar.is_weekend__pandas(day).to_numpy(),
                "request_hour_of_day": calendar.hour_of_day__pandas(when).to_numpy(),
            },
            index=inputs.index,
        )

    assert calendar_features  # the module the view's code runs
    return request_calendar
