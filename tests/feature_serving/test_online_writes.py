"""POST /write-to-online-store, when conf turns it on: only for key holders, every column and value
checked against the view, and a row older than the one held never replaces it (both stores)."""

from __future__ import annotations

import http.client

import pytest

from tests.feature_serving.conftest import post, running_server

KEY = "writer-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
DRIVER = 4242  # a driver of the tests' own: no materialized row


def _row(when: str, trips: int) -> dict:
    return {
        "feature_view_name": "driver_activity",
        "df": {
            "driver_id": [DRIVER],
            "event_timestamp": [when],
            "trips_1h": [trips],
            "trips_24h": [trips],
            "trips_7d": [trips],
            "mean_dist_24h": [1.5],
            "max_dist_24h": [None],
        },
    }


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def writer(request, served_stores):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_WRITER_KEYS", KEY)
        overrides = ["serving.write_routes=true", "serving.auth.api_keys_env=TEST_WRITER_KEYS"]
        with running_server(served_stores[request.param], *overrides) as (port, _):
            yield http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def _served_trips(connection) -> int | None:
    # asked soon after the rows written (the view's 1-day ttl counts from the moment asked)
    entities = {"driver_id": [DRIVER], "request_timestamp": ["2026-02-01T14:00:00Z"]}
    body = {"features": ["driver_activity:trips_1h"], "entities": entities}
    status, answer = post(connection, body, headers=AUTH)
    assert status == 200, answer
    return answer["results"][1]["values"][0]


def test_newer_rows_replace_older_ones_and_older_rows_never_do(writer):
    write = "/write-to-online-store"
    assert post(writer, _row("2026-02-01T12:00:00Z", 7), path=write)[0] == 401
    status, answer = post(writer, _row("2026-02-01T12:00:00Z", 7), path=write, headers=AUTH)
    assert status == 200 and answer == {"offered_rows": 1, "view": "driver_activity"}
    assert _served_trips(writer) == 7
    assert post(writer, _row("2026-02-01T11:00:00Z", 999999), path=write, headers=AUTH)[0] == 200
    assert _served_trips(writer) == 7  # older: kept out
    assert post(writer, _row("2026-02-01T13:00:00Z", 9), path=write, headers=AUTH)[0] == 200
    assert _served_trips(writer) == 9


@pytest.mark.parametrize(
    "change, field",
    [
        ({"trips_1h": ["many"]}, "trips_1h[0]"),
        ({"trips_1h": [1.5]}, "trips_1h[0]"),
        ({"mean_dist_24h": [True]}, "mean_dist_24h[0]"),
        ({"driver_id": [None]}, "driver_id[0]"),
        ({"event_timestamp": ["2026-02-01 12:00"]}, "event_timestamp[0]"),
        ({"event_timestamp": [None]}, "event_timestamp[0]"),
        ({"rider_id": [1]}, "rider_id"),
        ({"trips_7d": [1, 2]}, "df"),
    ],
)
def test_bad_writes_are_refused_naming_the_column(writer, change, field):
    body = _row("2026-02-01T12:00:00Z", 7)
    body["df"].update(change)
    status, answer = post(writer, body, path="/write-to-online-store", headers=AUTH)
    assert (status, answer["field"]) == (400, field), answer


def test_a_missing_column_or_an_unknown_view_is_refused(writer):
    body = _row("2026-02-01T12:00:00Z", 7)
    del body["df"]["trips_7d"]
    status, answer = post(writer, body, path="/write-to-online-store", headers=AUTH)
    assert (status, answer["field"]) == (400, "trips_7d")
    body = {**_row("2026-02-01T12:00:00Z", 7), "feature_view_name": "nope"}
    status, answer = post(writer, body, path="/write-to-online-store", headers=AUTH)
    assert (status, answer["field"]) == (404, "feature_view_name")
    body = {**_row("2026-02-01T12:00:00Z", 7), "feature_view_name": "request_calendar"}
    status, answer = post(writer, body, path="/write-to-online-store", headers=AUTH)
    assert (status, answer["field"]) == (400, "feature_view_name")
