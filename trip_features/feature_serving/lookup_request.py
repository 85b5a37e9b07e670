"""A lookup's JSON body, checked against the registry before the store is asked: every client
mistake becomes one `Refused` naming the field and what to send, and nothing is coerced (a
fractional or boolean id, a key the service does not take, NaN: all refused).

    {"feature_service": "driver_trips_v1",            # or "features": ["view:feature", ...]
     "entities": {"driver_id": [1001, 1002],            # the service's join keys, each a list
                  "request_timestamp": [1767225600, "2026-01-01T00:00:00Z"]},  # optional: now
     "full_feature_names": false}                       # optional
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from feast import FeatureService, FeatureView, OnDemandFeatureView
from feast.errors import FeatureServiceNotFoundException, FeatureViewNotFoundException

BODY_KEYS = ("entities", "feature_service", "features", "full_feature_names")
REQUEST_TIME = "request_timestamp"  # optional: the server's clock when a request sends none
INTEGERS = {"INT64": 63, "INT32": 31}


class Refused(Exception):
    """A request the server will not answer: its HTTP status, the field at fault, the reason."""

    def __init__(self, status: int, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.status, self.field, self.reason = status, field, reason

    def body(self) -> dict[str, str]:
        return {"error": self.reason, "field": self.field}


@dataclass(frozen=True)
class Needs:
    """What a service (or a list of feature references) needs in `entities`: the join keys and
    request data fields, each with its Feast value type name (INT64, UNIX_TIMESTAMP...)."""

    features: FeatureService | list[str]
    fields: dict[str, str]


@dataclass(frozen=True)
class Lookup:
    features: FeatureService | list[str]
    entities: dict[str, list]
    full_feature_names: bool
    rows: int


def parsed_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; duplicate keys, NaN and Infinity refused."""

    def no_constants(name: str):
        raise Refused(400, "body", f"{name} is not JSON: send numbers, or null for a missing value")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise Refused(400, key, "appears twice in one object: send it once")
            seen[key] = value
        return seen

    try:
        parsed = json.loads(body, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Refused(400, "body", f"is not JSON ({err}): send a JSON object") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "body", "must be a JSON object with entities and feature_service")
    return parsed


def needs_of(store, service: str | None, refs: list[str] | None) -> Needs:
    """What a lookup of `service` (or of the feature references `refs`) needs, from the registry."""
    registry, project = store.registry, store.project
    if service is not None:
        try:
            chosen = store.get_feature_service(service, allow_cache=True)
        except FeatureServiceNotFoundException:
            known = sorted(
                s.name for s in registry.list_feature_services(project, allow_cache=True)
            )
            raise Refused(
                404, "feature_service", f"{service!r} is not registered; known: {known}"
            ) from None
        names = [p.name for p in chosen.feature_view_projections]
        features: FeatureService | list[str] = chosen
    else:
        names, features = _views_of(store, refs or []), list(refs or [])
    fields: dict[str, str] = {}
    for name in names:
        view = registry.get_any_feature_view(name, project, allow_cache=True)
        fields.update(_fields_of(registry, project, view))
    return Needs(features=features, fields=fields)


def _views_of(store, refs: list[str]) -> list[str]:
    views = []
    for ref in refs:
        if (
            not isinstance(ref, str)
            or ref.count(":") != 1
            or ref.startswith(":")
            or ref.endswith(":")
        ):
            raise Refused(
                400, "features", f"{ref!r} is not a feature reference: write view:feature"
            )
        name, feature = ref.split(":")
        try:
            view = store.registry.get_any_feature_view(name, store.project, allow_cache=True)
        except FeatureViewNotFoundException:
            raise Refused(
                404, "features", f"{ref!r}: no feature view {name!r} is registered"
            ) from None
        if feature not in {f.name for f in view.features}:
            known = sorted(f.name for f in view.features)
            raise Refused(
                404, "features", f"{ref!r}: view {name!r} has no {feature!r}; it has {known}"
            )
        views.append(name)
    return views


def _fields_of(registry, project: str, view) -> dict[str, str]:
    if isinstance(view, OnDemandFeatureView):
        fields = {
            f.name: f.dtype.to_value_type().name
            for source in view.source_request_sources.values()
            for f in source.schema
        }
        for source in view.source_feature_view_projections.values():
            upstream = registry.get_any_feature_view(source.name, project, allow_cache=True)
            fields.update(_fields_of(registry, project, upstream))
        return fields
    if isinstance(view, FeatureView):
        return {f.name: f.dtype.to_value_type().name for f in view.entity_columns}
    return {}


def checked_lookup(body: dict[str, Any], store, max_keys: int) -> Lookup:
    """The lookup `body` asks for, every field checked; `Refused` at the first mistake."""
    unknown = sorted(set(body) - set(BODY_KEYS))
    if unknown:
        raise Refused(400, unknown[0], f"is not a lookup field; send only {list(BODY_KEYS)}")
    service, refs = body.get("feature_service"), body.get("features")
    if (service is None) == (not refs):
        raise Refused(400, "feature_service", "send feature_service or a list of features, one")
    if service is not None and (not isinstance(service, str) or not service):
        raise Refused(400, "feature_service", f"{service!r} is not a service name: send a string")
    if refs is not None and not (isinstance(refs, list) and all(isinstance(r, str) for r in refs)):
        raise Refused(400, "features", f"{_short(refs)} is not a list of view:feature references")
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise Refused(400, "full_feature_names", f"{full!r} is not true or false")
    key = ("needs", service, tuple(refs or ()))
    needs = store.kept(key, lambda: needs_of(store, service, refs))
    entities = body.get("entities")
    if not isinstance(entities, dict) or not entities:
        want = ", ".join(f"{k}: [...]" for k in needs.fields)
        raise Refused(400, "entities", f"send an object of lists: {{{want}}}")
    taken = {**needs.fields, REQUEST_TIME: "UNIX_TIMESTAMP"}  # the moment asked: any lookup
    extra = sorted(set(entities) - set(taken))
    if extra:
        raise Refused(400, extra[0], f"is not taken by this lookup; it takes {sorted(taken)}")
    if REQUEST_TIME in needs.fields and REQUEST_TIME not in entities:  # asked now
        rows = (
            len(next(iter(entities.values())))
            if isinstance(next(iter(entities.values())), list)
            else 0
        )
        entities = {**entities, REQUEST_TIME: [_now()] * rows}
    missing = sorted(set(needs.fields) - set(entities))
    if missing:
        raise Refused(400, missing[0], f"is missing from entities: send {sorted(needs.fields)}")
    rows = _row_count(entities, max_keys)
    checked = {name: _values(name, values, taken[name]) for name, values in entities.items()}
    return Lookup(features=needs.features, entities=checked, full_feature_names=full, rows=rows)


def _row_count(entities: dict[str, Any], max_keys: int, group: str = "entities") -> int:
    lengths = {}
    for name, values in entities.items():
        if not isinstance(values, list):
            raise Refused(400, name, f"{_short(values)} is not a list: send [value, ...]")
        if len(values) > max_keys:
            raise Refused(
                413,
                name,
                f"has {len(values)} values; at most {max_keys} a request "
                "(serving.limits.max_keys_per_request): split it",
            )
        lengths[name] = len(values)
    if len(set(lengths.values())) > 1:
        raise Refused(
            400, group, f"lists of different lengths {lengths}: send one value per row in each"
        )
    rows = next(iter(lengths.values()))
    if rows == 0:
        raise Refused(400, next(iter(lengths)), "is empty: send at least one row")
    return rows


def _values(name: str, values: list, kind: str) -> list:
    check = _CHECKS.get(kind)
    if check is None:
        raise Refused(400, name, f"has type {kind}, which lookups over HTTP do not take")
    for index, value in enumerate(values):
        problem = check(value)
        if problem:
            raise Refused(400, f"{name}[{index}]", f"{_short(value)} {problem}")
    return [_as_time(v) for v in values] if kind == "UNIX_TIMESTAMP" else values


def _now() -> str:
    """The server's clock, in whole seconds (what Feast carries of a request time)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _as_time(value) -> dt.datetime:
    """A checked request time as the store takes it (it keeps whole seconds)."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _integer(bits: int):
    def check(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "is not a whole number: send an integer id (no quotes, no decimals)"
        if not -(2**bits) <= value < 2**bits:
            return f"is out of range for a {bits + 1}-bit id"
        return None

    return check


def _text(value) -> str | None:
    return None if isinstance(value, str) else "is not a string"


def _time(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return "is not a time: send Unix seconds or ISO-8601 with a zone (2026-01-31T12:00:00Z)"
    if isinstance(value, int | float):
        return None if math.isfinite(value) and abs(value) < 253402300800 else "is out of range"
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return "is not ISO-8601: send e.g. 2026-01-31T12:00:00Z, or Unix seconds"
        return None if parsed.tzinfo else "has no zone: add Z or +00:00"
    return "is not a time: send Unix seconds or ISO-8601 with a zone"


_CHECKS = {
    "INT64": _integer(63),
    "INT32": _integer(31),
    "STRING": _text,
    "UNIX_TIMESTAMP": _time,
}


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
