"""conf/ as typed settings: every section a frozen model, checked once when conf is loaded
(before any session starts), so a wrong key, type or range stops a job at its first line with the
key named. Jobs receive `Settings` and hand each part the section it reads.

The feature declarations (`features:`) are checked here for their form; what they mean (a kind a
table can compute, a name that carries its window) is checked by transforms.feature_catalogue. The
serving section keeps its own checks (trip_features.runtime.serving_settings): its messages are
about exposure and secrets, and its API keys are read from the environment only by the server.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from trip_features.runtime.durations import parse_duration
from trip_features.runtime.serving_settings import ServingSettings, parse_serving
from trip_features.runtime.sizes import parse_bytes


def _duration(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    return parse_duration(value, "").to_pytimedelta()


def _duration_or_zero(value: Any) -> dt.timedelta:
    """A duration that may be 0 (a retention: drop at once)."""
    try:
        if pd.Timedelta(value) == pd.Timedelta(0):
            return dt.timedelta(0)
    except (ValueError, TypeError):
        pass  # said by _duration, in the one form
    return _duration(value)


def _size(value: Any) -> int:
    try:
        return parse_bytes(value, "size")
    except ValueError:
        raise ValueError("give a size such as 16m, 512k or 1g") from None


def _spark_value(value: Any) -> str | None:
    """A Spark setting as Spark takes it: a string (YAML's true/8 become "true"/"8")."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"{value!r} is not a Spark setting: give a string or a number")


Duration = Annotated[dt.timedelta, BeforeValidator(_duration)]
DurationOrZero = Annotated[dt.timedelta, BeforeValidator(_duration_or_zero)]
ByteSize = Annotated[int, BeforeValidator(_size)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Section(BaseModel):
    """A part of conf/: read-only, and refusing keys it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Paths(Section):
    """Where data lives (resolved against the workspace when loaded;
    trip_features.runtime.config)."""

    trips: str
    features: str
    registry: str
    online_store: str
    metastore: str | None = None
    lineage_events: str
    serving_log: str | None = None


class LineageSettings(Section):
    """Where OpenLineage run events go: file (paths.lineage_events), console, http (url), none."""

    transport: Literal["file", "console", "http", "none"] = "file"
    url: str | None = None
    namespace: str = "trip-features"
    table_namespace: str = "spark_catalog"

    @model_validator(mode="after")
    def _http_has_a_url(self) -> LineageSettings:
        if self.transport == "http" and not self.url:
            raise ValueError(
                "transport http needs lineage.url: the endpoint, e.g. http://marquez:5000 "
                "(events go to its /api/v1/lineage)"
            )
        return self


class PublicationSettings(Section):
    kind: Literal["files", "catalog"] = "files"
    schema_name: str = Field("trip_features", alias="schema")
    retention: DurationOrZero = dt.timedelta(days=7)  # 0: a superseded version goes at once


class SparkSettings(Section):
    app_name: str = "trip-features"
    master: str | None = None
    java_options: str | None = None
    class_archive: bool = True
    small_input_java_options: str | None = None
    small_input_bytes: ByteSize = 0
    remote: str | None = None
    # Spark's own settings; null unsets one an overlay inherits
    conf: dict[str, Annotated[str | None, BeforeValidator(_spark_value)]] = {}


class Checks(Section):
    """What a feature's values must satisfy (trip_features.quality.checks)."""

    minimum: int | float | None = None
    maximum: int | float | None = None
    minimum_exclusive: bool = False
    allowed: list[int | float] | None = None
    max_null_fraction: Fraction | None = None
    importance: Literal["fail", "warn"] = "fail"


class FeatureDeclaration(Section):
    kind: str
    aggregation: str | None = None
    window: str | None = None
    of: str | None = None
    description: str | None = None
    checks: Checks = Checks()


class TableDeclaration(Section):
    description: str | None = None
    accuracy: Literal["temporal", "snapshot"] | None = None
    ttl: Duration | None = None
    owner: str | None = None
    features: dict[str, FeatureDeclaration] = {}


class ServiceDeclaration(Section):
    """A feature service: what a model asks for by name."""

    description: str
    tables: Annotated[list[str], Field(min_length=1)]
    request_calendar: bool = False  # the calendar of the moment asked, computed per request
    owner: str | None = None


class FeatureSettings(Section):
    tables: dict[str, TableDeclaration] = {}
    services: dict[str, ServiceDeclaration] = {}
    percentile_bucket: str = "24h"


class QualitySettings(Section):
    max_trip_km: Annotated[float, Field(gt=0)] = 500.0
    future_slack: Duration = dt.timedelta(hours=1)
    rules: dict[str, Literal["quarantine", "fail", "keep"]] = {}


class GenerateSettings(Section):
    rows: Annotated[int, Field(ge=0)] = 200_000
    days: Annotated[int, Field(gt=0)] = 14
    seed: int = 42
    start: dt.date = dt.date(2026, 1, 5)
    drivers: Annotated[int, Field(gt=0)] = 1000
    riders: Annotated[int, Field(gt=0)] = 200_000
    null_dist_fraction: Fraction = 0.001


class OnlineStoreSettings(Section):
    """sqlite (the file paths.online_store) or redis (definitions.online_store)."""

    type: Literal["sqlite", "redis"] = "sqlite"
    connection_string: str | None = None  # ${VARIABLES}: expanded only where it is used
    redis_type: Literal["redis", "redis_cluster", "redis_sentinel"] = "redis"
    key_ttl_seconds: Annotated[int, Field(gt=0)] | None = None
    secret_scope: str | None = None  # Databricks: read the string from this secret scope
    secret_key: str = "redis"
    # A call to a Redis that does not answer is tried 1 + retries times, the pause between tries
    # doubling from 50 ms up to retry_backoff_cap (definitions/redis_online_store.py)
    retries: Annotated[int, Field(ge=0)] = 2
    retry_backoff_cap: Duration = dt.timedelta(milliseconds=500)


class FeastSettings(Section):
    driver_entity: str = "driver"
    owner: str = ""
    online_store: OnlineStoreSettings = OnlineStoreSettings()


class UiSettings(Section):
    allowed_hosts: list[str] = []


class ServingLogSettings(Section):
    enabled: bool = True
    sample_rate: Fraction = 1.0
    flush_seconds: Annotated[float, Field(gt=0)] = 1.0
    max_pending_rows: Annotated[int, Field(gt=0)] = 100_000


class ConsistencySettings(Section):
    max_unexplained_fraction: Fraction = 0.0


class Settings(Section):
    """The whole of conf/ for one environment."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    env: str
    paths: Paths
    lineage: LineageSettings = LineageSettings()
    publication: PublicationSettings = PublicationSettings()
    spark: SparkSettings = SparkSettings()
    features: FeatureSettings = FeatureSettings()
    quality: QualitySettings = QualitySettings()
    generate: GenerateSettings = GenerateSettings()
    feast: FeastSettings = FeastSettings()
    ui: UiSettings = UiSettings()
    serving_log: ServingLogSettings = ServingLogSettings()
    consistency: ConsistencySettings = ConsistencySettings()
    serving: Annotated[
        ServingSettings,
        BeforeValidator(parse_serving),
        PlainSerializer(ServingSettings.as_conf),
    ] = ServingSettings()

    def as_mapping(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The settings as conf/'s YAML writes them (for overrides; "json": for fingerprints)."""
        return self.model_dump(mode=mode, by_alias=True)
