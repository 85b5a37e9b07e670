"""Feature services: the sets of features a model asks for by name."""

from feast import FeatureService, FeatureView, OnDemandFeatureView

DRIVER_TRIPS = (
    "Driver activity at the moment asked, the driver's latest trip statistics and the request's "
    "calendar."
)


# Feast's UI shows a service's tags but neither its description nor its owner.
def _shown(description: str, owner: str) -> dict[str, str]:
    return {"description": description, "owner": owner}


def driver_activity_v1(driver_activity_now_view: OnDemandFeatureView, owner: str) -> FeatureService:
    """How busy a driver is and how far they drive, at the moment asked."""
    return FeatureService(
        name="driver_activity_v1",
        features=[driver_activity_now_view],
        description="How busy a driver is and how far they drive.",
        owner=owner,
        tags=_shown("How busy a driver is and how far they drive.", owner),
    )


def driver_trips_v1(
    driver_activity_now_view: OnDemandFeatureView,
    trips_stats_view: FeatureView,
    request_calendar_view: OnDemandFeatureView,
    owner: str,
) -> FeatureService:
    """Driver activity, the driver's latest trip statistics and the request's calendar."""
    return FeatureService(
        name="driver_trips_v1",
        features=[driver_activity_now_view, trips_stats_view, request_calendar_view],
        description=DRIVER_TRIPS,
        owner=owner,
        tags=_shown(DRIVER_TRIPS, owner),
    )
