"""On-demand features of the request itself, computed by the same code as the batch features."""

import pandas as pd
from feast import Entity, Field, OnDemandFeatureView, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Int32, UnixTimestamp


def trip_request_source() -> RequestSource:
    """The time a prediction is asked for, sent with each request."""
    return RequestSource(
        name="trip_request", schema=[Field(name="request_timestamp", dtype=UnixTimestamp)]
    )


def request_calendar_view(
    driver_entity: Entity, trip_request_source: RequestSource
) -> OnDemandFeatureView:
    """Calendar features of the request time, by the Hamilton nodes of transforms.calendar_features."""

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
        from transforms.dataflow import calendar_of

        calendar = calendar_of(inputs["request_timestamp"].reset_index(drop=True))
        return pd.DataFrame(
            {f"request_{name}": values.to_numpy() for name, values in calendar.items()},
            index=inputs.index,
        )

    return request_calendar
