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
