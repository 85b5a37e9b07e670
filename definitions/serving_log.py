"""The serving log: the answers the project's store gives, kept so that a replay
(`jobs.consistency`) can rebuild each one offline and explain every difference.

A feature service with a logging configuration (conf's `serving_log`, set on every service by
`definitions.feature_services`) has each answer recorded, at its sample rate. A row is one entity
row of an answer, in Feast's feature-logging schema (`feast.feature_logging`: the join keys, the
request data, each feature's value, `__timestamp` and `__status`, then `__log_timestamp`,
`__log_date` and `__request_id`) and what a replay needs to explain a difference:
`__registry_version`, `__code_versions` (each view's code version) and `__materialized_until`
(each online view's materialization end), the last two as JSON.

Recording is an append to a bounded queue (the answer's protobuf, not a copy); a thread turns the
queue into Arrow tables every `flush_seconds` and hands them to Feast's `write_logged_features`,
which the project's offline store writes as parquet under the service's destination, partitioned by
`__log_date` (`trip_features.offline_store.logged_features`). A clean stop (SIGTERM, the end of a
process) flushes what is queued. A SIGKILL loses what was queued: the answers of at most the last
`flush_seconds`. A queue that is full drops new answers and counts them (`dropped`, a metric of
`jobs.serve`), so a slow disk never slows lookups nor grows memory.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass

import pyarrow as pa
from feast.feature_logging import (
    LOG_DATE_FIELD,
    LOG_TIMESTAMP_FIELD,
    REQUEST_ID_FIELD,
    FeatureServiceLoggingSource,
)

from trip_features.runtime.locations import is_uri
from trip_features.runtime.settings import Settings

log = logging.getLogger(__name__)

REQUEST_TIME = "request_timestamp"
REGISTRY_VERSION, CODE_VERSIONS, MATERIALIZED_UNTIL = (
    "__registry_version",
    "__code_versions",
    "__materialized_until",
)


@dataclass(frozen=True)
class LogSettings:
    """conf's `serving_log`: where, how much, how often."""

    path: str
    sample_rate: float = 1.0
    flush_seconds: float = 1.0
    max_pending_rows: int = 100_000

    @classmethod
    def from_conf(cls, conf: Settings) -> LogSettings | None:
        """conf's `serving_log` and `paths.serving_log`; None when logging is off."""
        given = conf.serving_log
        if not given.enabled:
            return None
        path = conf.paths.serving_log
        if not path:
            registry = conf.paths.registry
            if not registry or is_uri(registry):
                raise ValueError(
                    "serving_log is enabled but paths.serving_log is not set (and the registry "
                    "is not a local file to log beside): set paths.serving_log, or "
                    "serving_log.enabled: false"
                )
            path = os.path.join(os.path.dirname(registry), "serving_log")
        return cls(
            path=str(path),
            sample_rate=given.sample_rate,
            flush_seconds=given.flush_seconds,
            max_pending_rows=given.max_pending_rows,
        )

    def logging_config(self, service: str):
        """The Feast logging configuration of `service`: its own folder under the path."""
        from feast.feature_logging import LoggingConfig
        from feast.infra.offline_stores.file_source import FileLoggingDestination

        destination = FileLoggingDestination(path=f"{self.path.rstrip('/')}/{service}")
        return LoggingConfig(destination=destination, sample_rate=self.sample_rate)


@dataclass(frozen=True)
class _Answer:
    service: object  # the FeatureService, with its logging configuration
    answer: object  # GetOnlineFeaturesResponse
    request_times: list[dt.datetime]
    context: tuple[str, str, str]  # registry version, code versions, materialized until
    logged_at: dt.datetime


class ServingLog:
    """The queue of answers to log, and the thread that writes them."""

    def __init__(self, store, flush_seconds: float = 1.0, max_pending_rows: int = 100_000):
        self.store = store
        self.flush_seconds, self.max_pending_rows = flush_seconds, max_pending_rows
        self.recorded = self.written = self.dropped = 0  # entity rows
        self._pending: deque[_Answer] = deque()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def record(self, service, answer, request_times, context) -> None:
        """Queues one answer of `service` (its protobuf) at its sample rate."""
        rate = service.logging_config.sample_rate
        if rate < 1 and random.random() >= rate:
            return
        rows = len(request_times)
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            if self._pending_rows + rows > self.max_pending_rows:
                self.dropped += rows
                return
            self._pending.append(_Answer(service, answer, request_times, context, now))
            self._pending_rows += rows
            self.recorded += rows
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="serving-log", daemon=True)
                self._thread.start()
                atexit.register(self.close)

    def flush(self) -> int:
        """Writes every queued answer now; returns the entity rows written."""
        with self._writing:
            with self._lock:
                taken, self._pending = list(self._pending), deque()
                self._pending_rows = 0
            by_service: dict[str, list[_Answer]] = {}
            for item in taken:
                by_service.setdefault(item.service.name, []).append(item)
            written = 0
            for items in by_service.values():
                table = logged_rows(items, self._schema(items[0].service))
                try:
                    self.store.write_logged_features(table, items[0].service)
                except Exception:
                    log.exception(
                        "could not write %d logged answers of %s: they are lost",
                        table.num_rows,
                        items[0].service.name,
                    )
                    with self._lock:
                        self.dropped += table.num_rows
                    continue
                written += table.num_rows
            with self._lock:
                self.written += written
            return written

    def _schema(self, service) -> pa.Schema:
        source = FeatureServiceLoggingSource(service, self.store.project)
        return self.store.kept(
            ("serving_log_schema", service.name), lambda: source.get_schema(self.store.registry)
        )

    def close(self) -> None:
        """Flushes and stops the writer (a clean stop)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_seconds)
            try:
                self.flush()
            except Exception:  # never let the writer die: the next flush tries again
                log.exception("the serving log writer failed")


def logged_rows(items: list[_Answer], schema: pa.Schema) -> pa.Table:
    """Feast's feature-logging rows of the answers of one service (`schema`: Feast's for it),
    the join keys first and the replay context last."""
    names = _logged_names(items[0].service)
    data: dict[str, list] = {}
    keys: list[str] = []
    for item in items:
        answer = item.answer
        for name, vector in zip(answer.metadata.feature_names.val, answer.results, strict=True):
            feature = names.get(name)
            if feature is None:  # a join key
                keys += [] if name in keys else [name]
                data.setdefault(name, []).extend(_python(v) for v in vector.values)
                continue
            data.setdefault(feature, []).extend(_python(v) for v in vector.values)
            data.setdefault(f"{feature}__timestamp", []).extend(
                dt.datetime.fromtimestamp(t.seconds, dt.UTC) if t.seconds else None
                for t in vector.event_timestamps
            )
            data.setdefault(f"{feature}__status", []).extend(int(s) for s in vector.statuses)
        rows = len(item.request_times)
        data.setdefault(REQUEST_TIME, []).extend(item.request_times)
        for name, value in zip(
            (REGISTRY_VERSION, CODE_VERSIONS, MATERIALIZED_UNTIL), item.context, strict=True
        ):
            data.setdefault(name, []).extend([value] * rows)
        data.setdefault(LOG_TIMESTAMP_FIELD, []).extend([item.logged_at] * rows)
        data.setdefault(LOG_DATE_FIELD, []).extend([item.logged_at.date()] * rows)
        data.setdefault(REQUEST_ID_FIELD, []).extend([uuid.uuid4().hex] * rows)
    total = sum(len(item.request_times) for item in items)
    fields = [pa.field(k, pa.int64()) for k in keys if k not in schema.names]
    # the request time as an instant (Feast's schema leaves it without a zone)
    fields += [f for f in schema if f.name != REQUEST_TIME]
    fields.append(pa.field(REQUEST_TIME, pa.timestamp("us", tz="UTC")))
    fields += [
        pa.field(n, pa.string()) for n in (REGISTRY_VERSION, CODE_VERSIONS, MATERIALIZED_UNTIL)
    ]
    arrays = [pa.array(data.get(f.name) or [None] * total, type=f.type) for f in fields]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _logged_names(service) -> dict[str, str]:
    """A feature's name in an answer (short or full) -> `view__feature`, as Feast logs it."""
    names = {}
    for projection in service.feature_view_projections:
        for feature in projection.features:
            full = f"{projection.name_to_use()}__{feature.name}"
            names[feature.name] = names[full] = full
    return names


def _python(value):
    kind = value.WhichOneof("val")
    return None if kind is None else getattr(value, kind)


def context_of(store) -> tuple[str, str, str]:
    """What a replay needs of the registry's state: its version, each view's code version and
    each online view's materialization end (JSON texts)."""
    from definitions.code_version_tag import CODE_VERSION_TAG

    def read() -> tuple[str, str, str]:
        proto = store.registry._get_registry_proto(project=store.project, allow_cache=True)
        version = proto.version_id or proto.last_updated.ToJsonString()
        views = store.registry.list_feature_views(store.project, allow_cache=True)
        code = {v.name: v.tags.get(CODE_VERSION_TAG) for v in views}
        ends = store.materialized_until()
        return version, json.dumps(code, sort_keys=True), json.dumps(ends, sort_keys=True)

    return store.kept(("serving_log_context",), read)
