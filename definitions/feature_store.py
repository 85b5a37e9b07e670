"""The edge to Feast: the store, the repository's objects, and their registration."""

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from feast import FeatureService, FeatureStore, Project
from feast.infra.registry import proto_registry_utils
from feast.online_response import OnlineResponse
from feast.repo_config import RepoConfig
from feast.repo_contents import RepoContents

from definitions.feast_dataflow import build_definitions
from definitions.online_on_demand import on_demand_read
from definitions.online_store import online_store_settings
from definitions.serving_log import LogSettings, ServingLog, context_of
from trip_features.offline_store.spark_store import quiet_feast_warnings
from trip_features.runtime.config import parse_yaml
from trip_features.runtime.errors import JobError
from trip_features.runtime.locations import is_local
from trip_features.runtime.settings import Settings

quiet_feast_warnings()
# Feast warns that the flag "typically has no effect" on a file registry; it has: a view being
# materialized is served (tests/feature_serving/test_served_while_materializing.py)
logging.getLogger("feast.repo_config").addFilter(
    lambda record: "serve_features_while_materializing" not in record.getMessage()
)

log = logging.getLogger(__name__)
ATOMIC_REGISTRY_STORE = "definitions.registry_store.AtomicFileRegistryStore"


def shipped_repo_settings(expand: bool = True) -> dict[str, Any]:
    """feature_repo/feature_store.yaml as shipped; ${VARIABLES} expand from the environment
    unless `expand` is False (secrets stay out of files)."""
    text = resources.files("feature_repo").joinpath("feature_store.yaml").read_text()
    return parse_yaml(os.path.expandvars(text) if expand else text)


def _repo_settings(conf: Settings, expand: bool = True) -> dict[str, Any]:
    """The shipped feature_store.yaml with the registry and online store paths of `conf`."""
    raw = shipped_repo_settings(expand)
    registry = conf.paths.registry
    raw["registry"] = {**raw["registry"], "path": registry}
    if is_local(registry):  # a local file: replaced whole, never rewritten in place
        raw["registry"]["registry_store_type"] = ATOMIC_REGISTRY_STORE
    raw["online_store"] = online_store_settings(conf, expand)
    return raw


def repo_config(conf: Settings) -> RepoConfig:
    """The Feast repository configuration for `conf`."""
    config = RepoConfig(**_repo_settings(conf))
    config.repo_path = Path(conf.paths.registry).parent
    return config


def write_repo(conf: Settings, folder: str | os.PathLike) -> Path:
    """Writes a feature_store.yaml for `conf` into `folder`, for the feast CLI (`feast -c`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(_repo_settings(conf, expand=False), sort_keys=False)
    (folder / "feature_store.yaml").write_text(text)
    return folder


class ProjectFeatureStore(FeatureStore):
    """Feast's FeatureStore, keeping each feature service it has read from the cached registry.

    Feast's feature server asks for the request's service by name (`allow_cache=True`) on every
    request, and Feast rebuilds it from its protobuf each time: a third of the server's time per
    lookup, measured (docs/benchmark-log.md). Feast caches feature views so, not services. The kept
    services go as soon as the registry is refreshed (another protobuf object).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept_lock = threading.Lock()
        self._kept_of: object = None
        self._kept: dict[tuple, Any] = {}
        self.serving_log: ServingLog | None = None  # feature_store() sets it from conf

    def kept(self, key: tuple, build: Callable[[], Any]) -> Any:
        """`build()`, made once per state of the cached registry (a refresh starts anew): what
        the server derives from the registry per request (a service, what a lookup needs)."""
        read_proto = getattr(self.registry, "_get_registry_proto", None)
        if read_proto is None:
            return build()
        proto = read_proto(project=self.project, allow_cache=True)
        with self._kept_lock:
            if self._kept_of is not proto:
                self._kept_of, self._kept = proto, {}
            if key in self._kept:
                return self._kept[key]
        value = build()
        with self._kept_lock:
            if self._kept_of is proto:
                self._kept[key] = value
        return value

    def materialized_until(self) -> dict[str, str | None]:
        """Each online view's materialization end (ISO-8601, None if never): its answers are
        exact for the rows loaded so far, up to then. Kept per registry state."""

        def read() -> dict[str, str | None]:
            ends = {}
            for view in self.registry.list_feature_views(self.project, allow_cache=True):
                if view.online:
                    last = max((end for _, end in view.materialization_intervals), default=None)
                    ends[view.name] = last.isoformat() if last else None
            return ends

        return self.kept(("materialized_until",), read)

    def get_feature_service(self, name: str, allow_cache: bool = False) -> FeatureService:
        if not allow_cache or getattr(self.registry, "_get_registry_proto", None) is None:
            return super().get_feature_service(name, allow_cache)
        project = self.project

        def read() -> FeatureService:
            proto = self.registry._get_registry_proto(project=project, allow_cache=True)
            return proto_registry_utils.get_feature_service(proto, name, project)

        return self.kept(("service", project, name), read)

    def get_online_features(self, features, entity_rows, *args, **kwargs):
        """Feast's lookup; a request without `request_timestamp` for features that need it (the
        windows at the moment asked, the request's calendar) is asked now, by this clock. The
        project's on-demand views are computed here (definitions.online_on_demand)."""
        times = _request_times(entity_rows)  # also the moment a snapshot's ttl counts from
        here = on_demand_read(self, features)  # the project's on-demand views, computed here
        asked = here.refs if here else features
        if _needs_request_time(self, asked):
            entity_rows = _with_request_time(entity_rows, times)
        else:
            entity_rows = _without_request_time(entity_rows)  # no view reads it
        full = kwargs.get("full_feature_names", args[0] if args else False)
        if here and not here.refs:  # on-demand views computed here alone: nothing for Feast
            response = OnlineResponse(here.keys_only(entity_rows))
        else:
            response = super().get_online_features(asked, entity_rows, *args, **kwargs)
        if here:
            here.complete(self, response.proto, entity_rows, times, bool(full))
        _expire_past_ttl(self, features, times, response.proto, bool(full))
        if self.serving_log is not None and isinstance(features, FeatureService):
            service = self.get_feature_service(features.name, allow_cache=True)
            if service.logging_config is not None:
                self.serving_log.record(service, response.proto, times, context_of(self))
        return response

    def get_historical_features(self, entity_df=None, features=None, *args, **kwargs):
        """Feast's training set; entity rows (pandas or Spark) without `request_timestamp` are
        asked at their own event time (the time windows and the request's calendar are of)."""
        columns = list(getattr(entity_df, "columns", []))  # pandas or Spark rows
        if (
            features is not None
            and "event_timestamp" in columns
            and REQUEST_TIME not in columns
            and _needs_request_time(self, features)
        ):
            if isinstance(entity_df, pd.DataFrame):
                entity_df = entity_df.assign(**{REQUEST_TIME: entity_df["event_timestamp"]})
            else:
                entity_df = entity_df.withColumn(REQUEST_TIME, entity_df["event_timestamp"])
        return super().get_historical_features(entity_df, features, *args, **kwargs)


REQUEST_TIME = "request_timestamp"


def _needs_request_time(store: FeatureStore, features) -> bool:
    """Whether `features` (a service or references) read the request time."""
    if isinstance(features, FeatureService):
        names = {p.name for p in features.feature_view_projections}
    else:
        names = {ref.split(":", 1)[0] for ref in features if isinstance(ref, str)}
    key = ("needs_request_time", tuple(sorted(names)))

    def find() -> bool:
        for view in store.registry.list_on_demand_feature_views(store.project, allow_cache=True):
            if view.name in names:
                sources = view.source_request_sources.values()
                if any(f.name == REQUEST_TIME for s in sources for f in s.schema):
                    return True
        return False

    return store.kept(key, find)


def _expire_past_ttl(store: FeatureStore, features, times, answer, full: bool) -> None:
    """Nulls (status OUTSIDE_MAX_AGE) the values of a view with a ttl whose row is older than
    the request time minus the ttl, as a training set at that time gets nulls: Feast's online
    read ignores the ttl. The request time is the row's `request_timestamp`, else now."""
    key = ("ttls", features.name) if isinstance(features, FeatureService) else ("ttls", *features)
    ttls = store.kept(key, lambda: _view_ttls(store, features))
    if not ttls:
        return
    names = list(answer.metadata.feature_names.val)
    columns = {}
    for view, (ttl, view_features) in ttls.items():
        for feature in view_features:
            name = f"{view}__{feature}" if full else feature
            if name in names:
                columns[names.index(name)] = ttl
    if not columns:
        return
    from feast.protos.feast.serving.ServingService_pb2 import FieldStatus
    from feast.protos.feast.types.Value_pb2 import Value

    for index, ttl in columns.items():
        vector = answer.results[index]
        for row, stamp in enumerate(vector.event_timestamps):
            if not (stamp.seconds or stamp.nanos) or row >= len(times):
                continue
            written = dt.datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, dt.UTC)
            if written < times[row] - ttl:
                vector.values[row].CopyFrom(Value())
                vector.statuses[row] = FieldStatus.OUTSIDE_MAX_AGE


def _view_ttls(store: FeatureStore, features) -> dict[str, tuple[dt.timedelta, list[str]]]:
    """Stored views of the request with a ttl: name as answered -> (ttl, features asked)."""
    if isinstance(features, FeatureService):
        asked = [
            (p.name, p.name_to_use(), [f.name for f in p.features])
            for p in features.feature_view_projections
        ]
    else:
        by_view: dict[str, list[str]] = {}
        for ref in features:
            view, _, feature = ref.partition(":")
            by_view.setdefault(view, []).append(feature)
        asked = [(view, view, names) for view, names in by_view.items()]
    found = {}
    for name, shown, names in asked:
        try:
            view = store.registry.get_feature_view(name, store.project, allow_cache=True)
        except Exception:  # an on-demand view, computed at request time: no ttl
            continue
        if view.ttl and view.ttl > dt.timedelta(0):
            found[shown] = (view.ttl, names or [f.name for f in view.features])
    return found


def _request_times(entity_rows) -> list[dt.datetime]:
    """Each row's request time (aware UTC): its request_timestamp, else now."""
    from definitions.on_demand_views import _request_time

    now = dt.datetime.now(dt.UTC)
    if isinstance(entity_rows, dict):
        count = len(next(iter(entity_rows.values()), []))
        given = entity_rows.get(REQUEST_TIME, [None] * count)
    else:
        given = [row.get(REQUEST_TIME) for row in entity_rows]
    times = []
    for value in given:
        moment = now if value is None else _request_time(value)
        times.append(moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment)
    return times


def _with_request_time(entity_rows, times: list[dt.datetime]):
    """The rows with their request times (a list of rows or a mapping of columns, as Feast
    takes them)."""
    if isinstance(entity_rows, dict):
        return {**entity_rows, REQUEST_TIME: times}
    return [{**row, REQUEST_TIME: moment} for row, moment in zip(entity_rows, times, strict=True)]


def _without_request_time(entity_rows):
    if isinstance(entity_rows, dict):
        return {k: v for k, v in entity_rows.items() if k != REQUEST_TIME}
    return [{k: v for k, v in row.items() if k != REQUEST_TIME} for row in entity_rows]


def feature_store(conf: Settings) -> FeatureStore:
    """The project's FeatureStore, with the registry folder created."""
    config = repo_config(conf)
    registry = config.registry.path
    if is_local(registry):
        os.makedirs(os.path.dirname(registry), exist_ok=True)
    store = ProjectFeatureStore(repo_path=str(config.repo_path), config=config)
    answers = LogSettings.from_conf(conf)
    if answers is not None:
        store.serving_log = ServingLog(store, answers.flush_seconds, answers.max_pending_rows)
    return store


def registered_store(conf: Settings) -> FeatureStore:
    """The project's FeatureStore, once its registry exists (a server or reader's start)."""
    registry = conf.paths.registry
    if is_local(registry) and not Path(registry).exists():
        raise JobError(
            f"no Feast registry at {registry}: register the definitions first "
            "(python -m jobs.register, or python -m jobs.pipeline for everything)"
        )
    return feature_store(conf)


def repo_contents(conf: Settings, code_versions: dict[str, str]) -> RepoContents:
    """The definitions DAG's objects, sorted into what Feast registers; `code_versions` are the
    published tables' (trip_features.feature_lineage.code_versions.published_versions)."""
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView
    from feast.data_source import DataSource

    objects = list(build_definitions(conf, code_versions=code_versions).values())

    def of(kind):
        return [o for o in objects if isinstance(o, kind)]

    return RepoContents(
        projects=[],
        data_sources=of(DataSource),
        feature_views=[v for v in of(FeatureView) if not isinstance(v, OnDemandFeatureView)],
        on_demand_feature_views=of(OnDemandFeatureView),
        stream_feature_views=[],
        label_views=[],
        entities=of(Entity),
        feature_services=of(FeatureService),
        permissions=[],
    )


def _keep_registered_timestamps(store: FeatureStore, contents: RepoContents) -> None:
    """Feast compares data sources with their creation times, so a rebuilt but identical source
    would show as updated on every plan: unchanged sources keep the registered times."""
    registered = {s.name: s for s in store.list_data_sources()}
    for source in contents.data_sources:
        _keep_times(source, registered.get(source.name))
    # An on-demand view compares its source views' sources as read back from the registry.
    views = {v.name: v for v in store.list_on_demand_feature_views()}
    for view in contents.on_demand_feature_views:
        old = views.get(view.name)
        if old is None:
            continue
        for name, projection in view.source_feature_view_projections.items():
            kept = old.source_feature_view_projections.get(name)
            if kept is not None and _same_source(projection.batch_source, kept.batch_source):
                # read back, a source says "" where it was built with None: keep the registered
                projection.batch_source = kept.batch_source


def _same_source(built, registered) -> bool:
    """Whether two sources are the same but for their creation and update times."""
    if built is None or registered is None:
        return built is registered
    protos = [built.to_proto(), registered.to_proto()]
    for proto in protos:
        proto.ClearField("meta")
    return protos[0] == protos[1]


def _keep_times(source, registered) -> None:
    if registered is not None:
        source.created_timestamp = registered.created_timestamp
        source.last_updated_timestamp = registered.last_updated_timestamp  # changes still show


def plan_and_apply(store: FeatureStore, contents: RepoContents, apply: bool = True) -> str:
    """Prints what registering `contents` changes; applies it unless `apply` is False."""
    contents.projects.append(Project(name=store.project))
    _keep_registered_timestamps(store, contents)
    registry_diff, infra_diff, new_infra = store.plan(contents)
    diff = f"{registry_diff.to_string()}\n{infra_diff.to_string()}".strip()
    if apply:
        # What `feast apply` itself does after planning.
        store._apply_diffs(registry_diff, infra_diff, new_infra)
    return diff
