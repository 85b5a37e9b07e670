"""The feature server's routes, as one ASGI app over the project's FeatureStore:

    POST /get-online-features    Feast's lookup API (request and answer as `feast serve`'s, with
                                 metadata.materialized_until: each view's freshness)
    GET  /health                 200 while the registry can be read (no credentials needed)
    GET  /metrics                Prometheus metrics, materialization ends included
    POST /write-to-online-store  only with serving.write_routes (and then auth is required)

Every answer is JSON. A client's mistake is a 4xx with `{"error": ..., "field": ...}`, one log
line, and the connection kept open; only the server's own faults are 500s with a traceback in
the log. A view that is not loaded yet, or an online store that does not answer, is a 503.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from trip_features.feature_serving.access import Gate, host_refusal
from trip_features.feature_serving.lookup_request import (
    Lookup,
    Refused,
    checked_lookup,
    parsed_json,
)
from trip_features.feature_serving.metrics import ServerMetrics
from trip_features.feature_serving.online_writes import checked_write
from trip_features.runtime.serving_settings import ServingSettings

log = logging.getLogger("trip_features.feature_serving")
JSON = b"application/json"
COMMON_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]


class Unavailable(Exception):
    """The store cannot answer now (a view not loaded yet, an online store that is down)."""


class FeatureServer:
    """The ASGI app: checks Host and credentials, routes, and turns every outcome into JSON."""

    def __init__(self, store, settings: ServingSettings, metrics: ServerMetrics | None = None):
        self.store, self.settings = store, settings
        self.metrics = metrics or ServerMetrics()
        self.gate = Gate(settings.auth)
        self.hosts = settings.answered_hosts()
        self.routes = {
            "/get-online-features": ("POST", self._lookup),
            "/health": ("GET", self._health),
            "/metrics": ("GET", self._metrics),
        }
        if settings.write_routes:
            self.routes["/write-to-online-store"] = ("POST", self._write)
        self._refresher: asyncio.Task | None = None
        # A lookup in the embedded sqlite store is a read of a local file, quicker than handing
        # it to a thread and back (0.4 ms of a 0.8 ms answer, measured: docs/benchmark-log.md); a
        # network store's lookup runs in a thread, so a stalled server cannot stop /health or
        # the other connections.
        self._local_store = "sqlite" in _store_settings(store)["type"].lower()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        began = time.perf_counter()
        path, method = scope["path"], scope["method"]
        headers = Headers(scope=scope)
        extra: list[tuple[bytes, bytes]] = []
        try:
            status, body, kind = await self._answer(path, method, headers, receive)
        except Refused as refused:
            status, body, kind = refused.status, json.dumps(refused.body()).encode(), JSON
            log.info(
                "refused %d %s %s from %s: %s", status, method, path[:80], _client(scope), refused
            )
            if refused.status == 401:
                extra.append((b"www-authenticate", b'Bearer realm="trip-features"'))
            if getattr(refused, "close", False):
                extra.append((b"connection", b"close"))  # its body was left unread
        except Unavailable as err:
            status, body, kind = 503, json.dumps({"error": str(err)}).encode(), JSON
            extra.append((b"retry-after", b"5"))
            log.warning("unavailable %s %s: %s", method, path, err)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("failed %s %s (incident %s)", method, path, incident)
            reason = f"the server failed; its log has incident {incident}"
            status, body, kind = 500, json.dumps({"error": reason}).encode(), JSON
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    *COMMON_HEADERS,
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        seconds = time.perf_counter() - began
        self.metrics.observe(path, status, seconds)
        if self.settings.access_log:
            log.info("%s %s %d %.2f ms", method, path[:80], status, seconds * 1000)

    async def _answer(self, path: str, method: str, headers: Headers, receive):
        refusal = host_refusal(headers.get("host"), self.hosts)
        if refusal is not None:
            raise refusal
        if path != "/health":
            refusal = self.gate.check(headers)
            if refusal is not None:
                raise refusal
        route = self.routes.get(path)
        if route is None:
            raise Refused(
                404, "path", f"{path[:60]!r} is not served; routes: {sorted(self.routes)}"
            )
        wanted, handler = route
        if method != wanted:
            raise Refused(405, "method", f"{path} takes {wanted}, not {method[:10]}")
        return await handler(headers, receive)

    async def _lookup(self, headers: Headers, receive):
        body = parsed_json(await self._body(headers, receive))
        limit = self.settings.limits.max_keys_per_request
        lookup = checked_lookup(body, self.store, limit)
        if self._local_store:
            response = self._read(lookup)
        else:
            response = await run_in_threadpool(self._read, lookup)
        self.metrics.rows.inc(lookup.rows)
        answer = _answer_dict(response)
        # Exact with respect to the rows materialized so far: up to when, per view
        answer["metadata"]["materialized_until"] = self.store.materialized_until()
        return 200, json.dumps(answer).encode(), JSON

    def _read(self, lookup: Lookup):
        from definitions.online_store import answering

        try:
            with answering(_store_settings(self.store)):
                return self.store.get_online_features(
                    features=lookup.features,
                    entity_rows=lookup.entities,
                    full_feature_names=lookup.full_feature_names,
                )
        except ValueError as err:
            if "cannot serve features" in str(err):
                raise Unavailable(
                    f"{str(err).split(' and cannot')[0]}: it is not loaded yet; run "
                    "python -m jobs.materialize"
                ) from None
            raise
        except Exception as err:
            from definitions.online_store import OnlineStoreError

            if isinstance(err, OnlineStoreError):
                raise Unavailable(str(err)) from None
            raise

    async def _write(self, headers: Headers, receive):
        body = parsed_json(await self._body(headers, receive))
        write = checked_write(body, self.store, self.settings.limits.max_keys_per_request)
        await run_in_threadpool(self.store.write_to_online_store, write.view, write.frame)
        log.info(
            "wrote %d row(s) of %s (older than those held are kept out)", write.rows, write.view
        )
        return 200, json.dumps({"offered_rows": write.rows, "view": write.view}).encode(), JSON

    async def _health(self, headers: Headers, receive):
        try:
            services = await run_in_threadpool(
                self.store.registry.list_feature_services, self.store.project, allow_cache=True
            )
        except Exception as err:
            raise Unavailable(f"the registry cannot be read: {type(err).__name__}") from None
        answer = {
            "status": "ok",
            "feature_services": sorted(s.name for s in services),
            "materialized_until": self.store.materialized_until(),
        }
        return 200, json.dumps(answer).encode(), JSON

    async def _metrics(self, headers: Headers, receive):
        for view, until in self.store.materialized_until().items():
            seconds = dt.datetime.fromisoformat(until).timestamp() if until else float("nan")
            self.metrics.materialized_until.labels(view).set(seconds)
        answers = getattr(self.store, "serving_log", None)
        if answers is not None:
            for state in ("recorded", "written", "dropped"):
                self.metrics.logged_rows.labels(state).set(getattr(answers, state))
        return 200, self.metrics.exposition(), self.metrics.content_type.encode()

    async def _body(self, headers: Headers, receive) -> bytes:
        limit = self.settings.limits.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _too_large(declared, limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "body", "the client left before sending it")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(str(size), limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.settings.registry_ttl_seconds:
                    self._refresher = asyncio.create_task(self._refresh_registry())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._refresher is not None:
                    self._refresher.cancel()
                answers = getattr(self.store, "serving_log", None)
                if answers is not None:  # a clean stop writes every logged answer
                    await run_in_threadpool(answers.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _refresh_registry(self) -> None:
        """Reads the registry again every serving.registry_ttl_seconds: new registrations are
        served that soon; a registry that cannot be read keeps the last one served."""
        while True:
            await asyncio.sleep(self.settings.registry_ttl_seconds)
            try:
                await run_in_threadpool(self.store.refresh_registry)
            except Exception as err:
                log.warning("the registry could not be read again, serving the last: %s", err)


def _too_large(size: str, limit: int) -> Refused:
    refused = Refused(
        413, "body", f"{size[:20]} bytes is over {limit} (serving.limits.max_body_bytes): send less"
    )
    refused.close = True
    return refused


def _answer_dict(response) -> dict[str, Any]:
    from feast.feature_server_utils import convert_response_to_dict

    return convert_response_to_dict(response.proto)


def _store_settings(store) -> dict[str, Any]:
    online = store.config.online_store
    return {"type": online.type, "connection_string": getattr(online, "connection_string", "")}


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"
