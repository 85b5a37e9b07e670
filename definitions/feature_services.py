"""Feature services: the sets of features a model asks for by name."""

from feast import FeatureService, FeatureView, OnDemandFeatureView

from definitions.serving_log import LogSettings

DRIVER_TRIPS = (
    "Driver activity at the moment asked, the driver's latest trip statistics and the request's "
    "calendar."
)


# Feast's UI shows a service's tags but neither its description nor its owner.
def _shown(description: str, owner: str) -> dict[str, str]:
    return {"description": description, "owner": owner}


def _logging(settings: LogSettings | None, service: str):
    return settings.logging_config(service) if settings else None


def _logged(settings: LogSettings | None, service: str) -> dict[str, str]:
    """The logging configuration as a tag as well: Feast compares services without it, so a
    change of it alone would never be registered; a tag change is."""
    if settings is None:
        return {"serving_log": "off"}
    return {"serving_log": f"{settings.path}/{service} at {settings.sample_rate:g}"}


def driver_activity_v1(
    driver_activity_now_view: OnDemandFeatureView,
    owner: str,
    serving_log_settings: LogSettings | None,
) -> FeatureService:
    """How busy a driver is and how far they drive, at the moment asked."""
    return FeatureService(
        name="driver_activity_v1",
        features=[driver_activity_now_view],
        description="How busy a driver is and how far they drive.",
        owner=owner,
        tags={
            **_shown("How busy a driver is and how far they drive.", owner),
            **_logged(serving_log_settings, "driver_activity_v1"),
        },
        logging_config=_logging(serving_log_settings, "driver_activity_v1"),
    )


def driver_trips_v1(
    driver_activity_now_view: OnDemandFeatureView,
    trips_stats_3h_view: FeatureView,
    request_calendar_view: OnDemandFeatureView,
    owner: str,
    serving_log_settings: LogSettings | None,
) -> FeatureService:
    """Driver activity, the driver's latest trip statistics and the request's calendar."""
    return FeatureService(
        name="driver_trips_v1",
        features=[driver_activity_now_view, trips_stats_3h_view, request_calendar_view],
        description=DRIVER_TRIPS,
        owner=owner,
        tags={
            **_shown(DRIVER_TRIPS, owner),
            **_logged(serving_log_settings, "driver_trips_v1"),
        },
        logging_config=_logging(serving_log_settings, "driver_trips_v1"),
    )
