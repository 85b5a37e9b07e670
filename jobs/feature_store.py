"""The edge to Feast: the store, the repository's objects, and their registration."""

import logging
import os
from pathlib import Path
from typing import Any

from feast import FeatureStore, Project
from feast.repo_contents import RepoContents

from definitions.dataflow import build_definitions
from jobs.config import PROJECT_ROOT

log = logging.getLogger(__name__)


def repo_path(conf: dict[str, Any]) -> Path:
    path = Path(conf["feast"]["repo_path"])
    return path if path.is_absolute() else PROJECT_ROOT / path


def feature_store(conf: dict[str, Any]) -> FeatureStore:
    """The project's FeatureStore (its feature_store.yaml), with the registry folder created."""
    path = repo_path(conf)
    if not (path / "feature_store.yaml").exists():
        raise FileNotFoundError(
            f"{path / 'feature_store.yaml'} is missing: set feast.repo_path in conf/"
        )
    store = FeatureStore(repo_path=str(path))
    registry = store.config.registry.path
    if "://" not in registry:
        os.makedirs(os.path.dirname(path / registry), exist_ok=True)
    return store


def repo_contents(conf: dict[str, Any]) -> RepoContents:
    """The definitions DAG's objects, sorted into what Feast registers."""
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView
    from feast.data_source import DataSource

    objects = list(build_definitions(conf).values())

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
        old = registered.get(source.name)
        if old is not None:
            source.created_timestamp = old.created_timestamp
            source.last_updated_timestamp = old.last_updated_timestamp  # real changes still show


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
