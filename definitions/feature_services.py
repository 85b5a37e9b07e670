"""Feature services: the sets of features a model asks for by name, one per service the
catalogue declares (`features.services`)."""

from feast import FeatureService
from feast.base_feature_view import BaseFeatureView

from definitions.per_table import per_service
from definitions.serving_log import LogSettings
from transforms.feature_catalogue import Catalogue


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


@per_service()
def feature_service(
    service: str,
    views: list[BaseFeatureView],
    owner: str,
    catalogue: Catalogue,
    serving_log_settings: LogSettings | None,
) -> FeatureService:
    """The feature service {service}, as the catalogue declares it."""
    declared = catalogue.services[service]
    owner = declared.owner or owner
    return FeatureService(
        name=service,
        features=views,
        description=declared.description,
        owner=owner,
        tags={
            **_shown(declared.description, owner),
            **_logged(serving_log_settings, service),
        },
        logging_config=_logging(serving_log_settings, service),
    )
