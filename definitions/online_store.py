"""The online store Feast serves from, chosen in conf's `feast.online_store`:

    sqlite  an embedded file at paths.online_store: one machine, no server (the default)
    redis   a Redis server shared by a fleet of model servers; `connection_string` is
            host:port[,password=...][,ssl=true] and must come from the environment (on
            Databricks, a cluster variable set from a secret scope) or, when the variable is
            unset, from `secret_scope`/`secret_key` through dbutils; never from a file

Lookups and materialization against a Redis that is down fail, after the few tries conf's
`retries` allows (definitions/redis_online_store.py), with a message naming the server.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from trip_features.runtime.errors import JobError
from trip_features.runtime.settings import OnlineStoreSettings, Settings

SQLITE_STORE_TYPE = "definitions.sqlite_online_store.ProjectSqliteOnlineStore"
REDIS_STORE_TYPE = "definitions.redis_online_store.ProjectRedisOnlineStore"
REDIS_TIMEOUTS = {"socket_connect_timeout": 3, "socket_timeout": 10}  # seconds: fail, never hang


class OnlineStoreError(JobError):
    """The online store is misconfigured or cannot be reached."""


def online_store_settings(conf: Settings, expand: bool = True) -> dict[str, Any]:
    """Feast's `online_store:` settings for conf; ${VARIABLES} expand from the environment
    unless `expand` is False (a feature_store.yaml written for the feast CLI keeps them)."""
    chosen = conf.feast.online_store
    if chosen.type == "sqlite":
        # Feast's sqlite store, writing only newer rows and never blocking readers
        return {"type": SQLITE_STORE_TYPE, "path": conf.paths.online_store}
    written = chosen.connection_string or ""
    if not written:
        raise OnlineStoreError(
            "feast.online_store.connection_string is empty: set it to ${TRIP_FEATURES_REDIS} and "
            "export TRIP_FEATURES_REDIS=host:port[,password=...][,ssl=true]"
        )
    if re.search(r"password=(?!\$\{)", written):
        raise OnlineStoreError(
            "feast.online_store.connection_string holds a password: configuration files are "
            "committed, so take it from the environment, e.g. ${TRIP_FEATURES_REDIS}"
        )
    connection = _expanded(written, chosen) if expand else written
    present = {part.split("=", 1)[0] for part in connection.split(",") if "=" in part}
    extra = [f"{k}={v}" for k, v in REDIS_TIMEOUTS.items() if k not in present]
    settings = {
        "type": REDIS_STORE_TYPE,
        "redis_type": chosen.redis_type,
        "connection_string": ",".join([connection, *extra]),
        "retries": chosen.retries,
        "retry_backoff_cap_seconds": chosen.retry_backoff_cap.total_seconds(),
    }
    if chosen.key_ttl_seconds:
        settings["key_ttl_seconds"] = chosen.key_ttl_seconds
    return settings


def _expanded(value: str, chosen: OnlineStoreSettings) -> str:
    missing = sorted(name for name in re.findall(r"\$\{(\w+)\}", value) if name not in os.environ)
    if missing and chosen.secret_scope:
        secret = _secret(chosen.secret_scope, chosen.secret_key)
        if secret is not None:
            return secret
    if missing:
        raise OnlineStoreError(
            f"the Redis online store's connection string needs {', '.join(missing)} in the "
            "environment: export it as host:port[,password=...][,ssl=true] (on Databricks, set "
            "it on the cluster from a secret scope: {{secrets/<scope>/<key>}})"
        )
    return os.path.expandvars(value)


def _secret(scope: str, key: str) -> str | None:
    """The connection string from a Databricks secret scope, where dbutils exists."""
    try:
        from databricks.sdk.runtime import dbutils
    except ImportError:
        return None
    return dbutils.secrets.get(scope=scope, key=key)


def redis_address(settings: dict[str, Any]) -> str:
    """host:port of a Redis connection string, without its secrets."""
    return settings["connection_string"].split(",", 1)[0]


def explain_unreachable(settings: dict[str, Any], err: Exception) -> OnlineStoreError:
    """What to do when Redis does not answer."""
    return OnlineStoreError(
        f"the Redis online store at {redis_address(settings)} does not answer "
        f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no reason given'}): "
        "start it, or point TRIP_FEATURES_REDIS at a running server"
    )


@contextmanager
def answering(settings: dict[str, Any]) -> Iterator[None]:
    """Turns a Redis that refuses, times out or is gone, or a sqlite file that cannot be opened
    or written, into one error saying what to do."""
    try:
        yield
    except Exception as err:
        if settings.get("type") == SQLITE_STORE_TYPE and isinstance(err, sqlite3.Error):
            raise OnlineStoreError(
                f"the sqlite online store at {settings['path']} cannot be used "
                f"({type(err).__name__}: {err}): point paths.online_store at a file this user "
                "can write (not a folder), on a local disk"
            ) from err
        if settings.get("type") == REDIS_STORE_TYPE:
            from redis.exceptions import ConnectionError, TimeoutError

            if isinstance(err, ConnectionError | TimeoutError):
                raise explain_unreachable(settings, err) from err
        raise


def check_writable(store, settings: dict[str, Any]) -> None:
    """An OnlineStoreError now, before any offline data is read, when the online store of
    `store` (Feast's, configured by `settings`) cannot be written: a Redis that does not answer, a
    sqlite path that is a folder, not a database, or read-only."""
    with answering(settings):
        if settings["type"] == REDIS_STORE_TYPE:
            online = store._get_provider().online_store
            online._get_client(store.config.online_store).ping()
        elif settings["type"] == SQLITE_STORE_TYPE:
            folder = os.path.dirname(settings["path"])
            if folder:
                os.makedirs(folder, exist_ok=True)
            with closing(sqlite3.connect(settings["path"], timeout=30)) as db:
                db.execute("BEGIN IMMEDIATE")  # the write lock: what a write would take first
                db.rollback()
