"""The project's on-demand views, computed where the project's store answers a lookup.

Through Feast's on-demand path a view costs about half of a lookup: the stored values turned into
Python, a dict of columns per request, the function, and each value typed back into protobuf
(docs/benchmark-log.md); and with `full_feature_names` a Python-mode view answers nothing at all
(Feast keeps the outputs named as the full names, which a function returning its own names never
has). The project's store asks Feast for the stored views only, then computes here:

- the windows at the moment asked (`driver_activity_now`): `window_kernels.windows_at_times`
  over the driver's recent trips, read from the online store directly (the packed arrays never
  enter Feast's answer: a hot driver's 1.6 MB copied into it was a third of its lookup);
- views of the request alone (`request_calendar`): their own function on the request times.

The answer has the names, order, statuses and types Feast's path gives (tested equal:
tests/definitions/test_online_on_demand.py). `feast serve` keeps Feast's path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from feast import FeatureService
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import python_values_to_proto_values
from google.protobuf.timestamp_pb2 import Timestamp

from definitions.temporal_views import TIMES, _recent_column
from transforms.kernels.window_kernels import windows_at_times
from trip_features.offline_store.temporal_windows import TEMPORAL_TAG, plan_of_view

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_REQUEST_TIME = "request_timestamp"
_NO_TIME = Timestamp()  # Feast's on-demand values carry none


@dataclass(frozen=True)
class _Windows:
    """A temporal view asked: its features asked (in the view's order), and the stored view of
    the packed arrays it computes them from."""

    plan: dict[str, tuple]
    source: object  # the FeatureView of the packed arrays
    measure_columns: dict[str, str]  # measure -> its packed column

    def values(self, store, rows: dict[str, list], asked_us: list[int]) -> dict[str, list[Value]]:
        read = store._get_provider().online_read(
            config=store.config,
            table=self.source,
            entity_keys=_entity_keys(self.source, rows),
            requested_features=[TIMES, *self.measure_columns.values()],
        )
        stored = [values or {} for _, values in read]
        times = [_bytes(values.get(TIMES)) for values in stored]
        measures = {
            m: [_bytes(values.get(column)) for values in stored]
            for m, column in self.measure_columns.items()
        }
        computed = windows_at_times(asked_us, times, measures, self.plan)
        return {
            name: [_value(how, v) for v in computed[name]]
            for name, (how, _, _) in self.plan.items()
        }


def _bytes(value: Value | None) -> bytes | None:
    return value.bytes_val if value is not None else None


def _entity_keys(view, rows: dict[str, list]) -> list[EntityKey]:
    """Each request row's key in `view`, typed as the view's entity columns."""
    columns = view.entity_columns
    missing = [c.name for c in columns if c.name not in rows]
    if missing:
        raise ValueError(
            f"the entity rows have no {', '.join(missing)}: send {', '.join(missing)} in each row "
            f"(the key of {view.name})"
        )
    typed = {
        c.name: python_values_to_proto_values(list(rows[c.name]), c.dtype.to_value_type())
        for c in columns
    }
    return [
        EntityKey(join_keys=list(typed), entity_values=[typed[k][i] for k in typed])
        for i in range(len(rows[columns[0].name]))
    ]


@dataclass(frozen=True)
class _OfRequest:
    """A view of the request time alone: its function, its features asked, their types."""

    view: object  # the OnDemandFeatureView
    types: dict[str, object]  # feature asked -> its Feast ValueType

    def values(self, store, rows: dict[str, list], asked_us: list[int]) -> dict[str, list[Value]]:
        moments = [dt.datetime.fromtimestamp(us // 1_000_000, dt.UTC) for us in asked_us]
        out = self.view.feature_transformation.udf({_REQUEST_TIME: moments})
        return {  # in the function's order, as Feast's path answers
            name: python_values_to_proto_values(list(values), self.types[name])
            for name, values in out.items()
            if name in self.types
        }


@dataclass(frozen=True)
class OnDemandRead:
    """A lookup whose on-demand views are computed here: what Feast is asked for, and how its
    answer is completed."""

    refs: list[str]  # the stored views' features Feast is asked for
    here: dict[str, _Windows | _OfRequest]  # on-demand view -> how it is computed here
    on_demand: list[str]  # every on-demand view asked, in Feast's order of its answer
    left_to_feast: dict[str, list[str]]  # other on-demand views -> their refs asked

    def keys_only(self, entity_rows) -> GetOnlineFeaturesResponse:
        """Feast's answer when every view asked is computed here: the rows' join keys, as
        Feast answers them (in the rows' order of keys, present, without times)."""
        rows = _columns(entity_rows)
        typed = {
            c.name: c.dtype.to_value_type()
            for how in self.here.values()
            if isinstance(how, _Windows)
            for c in how.source.entity_columns
        }
        answer = GetOnlineFeaturesResponse()
        for key in (k for k in rows if k in typed):
            values = python_values_to_proto_values(rows[key], typed[key])
            answer.metadata.feature_names.val.append(key)
            answer.results.append(_present(values))
        return answer

    def complete(self, store, answer, rows, times: list[dt.datetime], full: bool) -> None:
        """Adds the views computed here for the entity `rows` at each row's request time to
        Feast's `answer` (its protobuf), in the order of Feast's on-demand path."""
        rows = _columns(rows)
        names = list(answer.metadata.feature_names.val)
        columns = dict(zip(names, answer.results, strict=True))
        # Feast carries request times in whole seconds: so does this path
        asked_us = [(t - _EPOCH) // dt.timedelta(seconds=1) * 1_000_000 for t in times]
        blocks: dict[str, list[tuple[str, GetOnlineFeaturesResponse.FeatureVector]]] = {}
        for view, how in self.here.items():
            blocks[view] = [
                (
                    f"{view}__{feature}" if full else feature,
                    _present(values),
                )
                for feature, values in how.values(store, rows, asked_us).items()
            ]
        by_feast = {
            _answered(ref, full): view for view, refs in self.left_to_feast.items() for ref in refs
        }
        kept = [(n, columns[n]) for n in names]
        order = [(n, v) for n, v in kept if n not in by_feast]
        for view in self.on_demand:
            if view in blocks:
                order.extend(blocks[view])
            else:
                order.extend((n, v) for n, v in kept if by_feast.get(n) == view)
        del answer.metadata.feature_names.val[:]
        answer.metadata.feature_names.val.extend(n for n, _ in order)
        del answer.results[:]
        answer.results.extend(v for _, v in order)


def _present(values: list[Value]) -> GetOnlineFeaturesResponse.FeatureVector:
    return GetOnlineFeaturesResponse.FeatureVector(
        values=values,
        statuses=[FieldStatus.PRESENT] * len(values),
        event_timestamps=[_NO_TIME] * len(values),
    )


def _columns(rows) -> dict[str, list]:
    """Entity rows as Feast takes them (a list of rows or a mapping of columns), as columns."""
    if isinstance(rows, dict):
        return {k: list(v) for k, v in rows.items()}
    return {k: [row[k] for row in rows] for k in (rows[0] if rows else {})}


def _answered(ref: str, full: bool) -> str:
    view, _, feature = ref.partition(":")
    return f"{view}__{feature}" if full else feature


def _value(how: str, value) -> Value:
    if value is None:
        return Value()
    return Value(int64_val=value) if how == "count" else Value(double_val=value)


def on_demand_read(store, features) -> OnDemandRead | None:
    """How to answer `features` (a service or references) with the project's on-demand views
    computed here; None when none is asked, or the request is one Feast's path should answer (a
    service renaming its views, a feature a view does not have: Feast's error then)."""
    if isinstance(features, FeatureService):
        return store.kept(("on_demand_read", features.name), lambda: _plan(store, features))
    return _plan(store, features)


def _plan(store, features) -> OnDemandRead | None:
    refs = _refs(store, features)
    if refs is None:
        return None
    views = {
        v.name: v
        for v in store.registry.list_on_demand_feature_views(store.project, allow_cache=True)
    }
    asked: dict[str, list[str]] = {}
    for ref in refs:
        view, _, feature = ref.partition(":")
        if view in views:
            asked.setdefault(view, []).append(feature)
    here: dict[str, _Windows | _OfRequest] = {}
    stored = [r for r in refs if r.partition(":")[0] not in views]
    for name, features_asked in asked.items():
        view = views[name]
        if not set(features_asked) <= {f.name for f in view.features}:
            return None  # Feast says which feature does not exist
        if TEMPORAL_TAG in view.tags:
            here[name] = _windows(store, view, features_asked)
        elif _of_request_time_alone(view):
            types = {f.name: f.dtype.to_value_type() for f in view.features}
            here[name] = _OfRequest(view, {f: types[f] for f in types if f in features_asked})
    if not here:
        return None
    left = {v: [f"{v}:{f}" for f in asked[v]] for v in asked if v not in here}
    return OnDemandRead(
        refs=stored + [ref for refs_ in left.values() for ref in refs_],
        here=here,
        on_demand=list(asked),
        left_to_feast=left,
    )


def _windows(store, view, features_asked: list[str]) -> _Windows:
    plan = plan_of_view(view)
    source = next(
        p.name
        for p in view.source_feature_view_projections.values()
        if TIMES in {f.name for f in p.features}
    )
    chosen = {f: plan[f] for f in plan if f in features_asked}
    measures = sorted({m for _, _, m in chosen.values() if m})
    return _Windows(
        plan=chosen,
        source=store.registry.get_feature_view(source, store.project, allow_cache=True),
        measure_columns={m: _recent_column(m) for m in measures},
    )


def _of_request_time_alone(view) -> bool:
    """A Python-mode view whose only input is the request time."""
    fields = {f.name for s in view.source_request_sources.values() for f in s.schema}
    return (
        view.mode == "python"
        and not view.source_feature_view_projections
        and fields == {_REQUEST_TIME}
        and not view.aggregations
    )


def _refs(store, features) -> list[str] | None:
    """The references a request asks for, as Feast reads them; None for a service that renames
    a view or its keys (Feast's path answers those)."""
    if not isinstance(features, FeatureService):
        return list(features) if all(isinstance(f, str) for f in features) else None
    service = store.get_feature_service(features.name, allow_cache=True)
    projections = service.feature_view_projections
    if any(p.name_alias or p.join_key_map for p in projections):
        return None
    return [f"{p.name_to_use()}:{f.name}" for p in projections for f in p.features]
