"""Feast's sqlite online store, made safe to serve from while it is written:

- a row replaces the one held for the same driver only when its event time is newer, as Redis
  does (Feast's sqlite write overwrites whatever is there, so materializing an earlier range
  moved every driver back in time);
- the database runs in write-ahead-log mode, so a lookup never waits on, nor sees part of, a
  materialization's transaction: it reads the old rows or the new ones.

Chosen by `type: definitions.sqlite_online_store.ProjectSqliteOnlineStore` (what
`definitions.online_store.online_store_settings` writes for `feast.online_store.type: sqlite`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from feast.feature_view import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import extract_text_and_num
from feast.infra.online_stores.sqlite import (
    SqliteOnlineStore,
    SqliteOnlineStoreConfig,
    _quote_id,
    _table_id,
)
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from feast.utils import to_naive_utc

from definitions.online_store import SQLITE_STORE_TYPE
from trip_features.runtime.faults import checkpoint


class ProjectSqliteOnlineStoreConfig(SqliteOnlineStoreConfig):
    """Feast's sqlite settings, under the project's store type."""

    type: Literal["definitions.sqlite_online_store.ProjectSqliteOnlineStore"] = SQLITE_STORE_TYPE  # type: ignore[assignment]


def newer_only_upsert(table: str) -> str:
    """The write of one (driver, feature) row: inserted, or replacing the held row only when its
    event time is later. Timestamps are stored as sqlite3's ISO text of naive UTC times, whose
    text order is their time order."""
    return (
        f"INSERT INTO {table} (entity_key, feature_name, value, value_text, event_ts, created_ts) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(entity_key, feature_name) DO UPDATE SET "
        "value = excluded.value, value_text = excluded.value_text, "
        "event_ts = excluded.event_ts, created_ts = excluded.created_ts "
        f"WHERE {table}.event_ts IS NULL OR excluded.event_ts > {table}.event_ts"
    )


class ProjectSqliteOnlineStore(SqliteOnlineStore):
    """SqliteOnlineStore whose writes never move a driver back in time and never block readers."""

    def _get_conn(self, config: RepoConfig) -> sqlite3.Connection:
        fresh = self._conn is None
        conn = super()._get_conn(config)
        if fresh:
            conn.execute("PRAGMA journal_mode=WAL")  # kept in the file: every process reads so
            conn.execute("PRAGMA busy_timeout=10000")  # a writer waits for another writer
        return conn

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        if config.online_store.vector_enabled:  # vectors need Feast's own columns
            raise ValueError(
                "the project's sqlite store does not keep vectors: set "
                "online_store.vector_enabled to false"
            )
        conn = self._get_conn(config)
        name = _quote_id(
            _table_id(config.project, table, config.registry.enable_online_feature_view_versioning)
        )
        version = config.entity_key_serialization_version
        rows = []
        for entity_key, values, event_time, created in data:
            key = serialize_entity_key(entity_key, entity_key_serialization_version=version)
            event_ts = to_naive_utc(event_time)
            created_ts = to_naive_utc(created) if created is not None else None
            for feature, value in values.items():
                text, _ = extract_text_and_num(value, False)
                rows.append((key, feature, value.SerializeToString(), text, event_ts, created_ts))
        checkpoint(f"online_write:{table.name}")  # a test stops a materialization here
        with conn:  # one transaction: readers see all of this batch or none of it
            conn.executemany(newer_only_upsert(name), rows)
        if progress:
            progress(len(data))
