"""The request time of the on-demand view, however a client sends it."""

import datetime as dt

import numpy as np
import pytest

from definitions.on_demand_views import _request_time

MONDAY_NOON = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "sent",
    [
        MONDAY_NOON,
        int(MONDAY_NOON.timestamp()),
        float(MONDAY_NOON.timestamp()),
        np.int64(MONDAY_NOON.timestamp()),
        "2026-01-05T12:00:00+00:00",
        "2026-01-05T21:00:00+09:00",
    ],
)
def test_a_time_sent_any_supported_way_is_the_same_instant(sent):
    assert _request_time(sent) == MONDAY_NOON


def test_no_time_stays_none():
    assert _request_time(None) is None


@pytest.mark.parametrize("sent", ["yesterday", True, [1]])
def test_anything_else_says_what_to_send(sent):
    with pytest.raises(ValueError, match="send a datetime, Unix seconds or an ISO-8601 text"):
        _request_time(sent)


def test_the_view_rebuilt_from_its_source_text_computes_the_calendar(conf):
    """Feast 0.67 rebuilds a Python-mode view's function from its registered source text, in a
    namespace of its own (dill only if that fails): the function must need nothing else."""
    from feast.transformation.udf_rehydrate import rehydrate_udf_from_source

    from definitions.feast_dataflow import build_definitions

    view = build_definitions(conf)["request_calendar_view"]
    udf = view.to_proto().spec.feature_transformation.user_defined_function
    rebuilt = rehydrate_udf_from_source(udf.body_text, preferred_name=udf.name)
    assert rebuilt is not None, "the registered source text does not run on its own"
    got = rebuilt({"request_timestamp": [MONDAY_NOON, None, "2026-01-10T23:30:00+00:00"]})
    assert got == {
        "request_day_of_week": [0, None, 5],
        "request_is_weekend": [0, None, 1],
        "request_hour_of_day": [12, None, 23],
    }
