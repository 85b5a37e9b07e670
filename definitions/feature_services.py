"""Feature services: the sets of features a model asks for by name."""

from feast import FeatureService, FeatureView, OnDemandFeatureView


def driver_activity_v1(driver_activity_view: FeatureView) -> FeatureService:
    """How busy a driver is and how far they drive."""
    return FeatureService(
        name="driver_activity_v1",
        features=[driver_activity_view],
        description="How busy a driver is and how far they drive.",
    )


def driver_trips_v1(
    driver_activity_view: FeatureView,
    trips_stats_view: FeatureView,
    request_calendar_view: OnDemandFeatureView,
) -> FeatureService:
    """Driver activity, the driver's latest trip statistics and the request's calendar."""
    return FeatureService(
        name="driver_trips_v1",
        features=[driver_activity_view, trips_stats_view, request_calendar_view],
        description="Driver activity, the driver's latest trip statistics and the request's calendar.",
    )
