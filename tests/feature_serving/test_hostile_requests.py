"""The feature server as a hostile or careless client meets it, on sqlite and Redis: every mistake
is a 4xx naming the field, logged in one line without a traceback, and the kept-alive connection
goes on to answer the next good request correctly; nothing is coerced; only lookups, health and
metrics are served."""

from __future__ import annotations

import http.client
import json
import logging
import re

import numpy as np
import pandas as pd
import pytest

from tests.feature_serving.conftest import FULL_END, post, running_server
from tests.jobs.feast_serving import latest_per_driver
from tests.oracles import windows_at
from tests.shipped_catalogue import WINDOWS

ACTIVITY = WINDOWS  # every window the catalogue declares
AT = 1767225600  # 2026-01-01T00:00:00Z
ASKED = "2026-01-09T17:45:00Z"  # within the tests' trips
FULL_END_UTC = f"{FULL_END}T00:00:00+00:00"  # what the tests' stores are materialized up to
GOOD = {
    "feature_service": "driver_activity_v1",
    "entities": {"driver_id": [1001, 1002], "request_timestamp": [ASKED, ASKED]},
}

# (what the client sends, status, the field the answer names)
CATALOGUE = [
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": ["abc"]}},
        400,
        "driver_id[0]",
    ),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": [None]}},
        400,
        "driver_id[0]",
    ),
    (b'{"feature_service": "driver_activity_v1", "entities": {"driver_id": [NaN]}}', 400, "body"),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": [2**63]}},
        400,
        "driver_id[0]",
    ),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001.5]}},
        400,
        "driver_id[0]",
    ),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": [True]}},
        400,
        "driver_id[0]",
    ),
    ({"feature_service": "driver_activity_v1", "entities": {"driver_id": 1001}}, 400, "driver_id"),
    ({"feature_service": "driver_activity_v1", "entities": {"driver_id": []}}, 400, "driver_id"),
    ({"feature_service": "driver_activity_v1", "entities": {}}, 400, "entities"),
    ({"feature_service": "driver_activity_v1"}, 400, "entities"),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1], "rider_id": [2]}},
        400,
        "rider_id",
    ),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1]}, "ttl": 5},
        400,
        "ttl",
    ),
    ({"feature_service": "nope_v9", "entities": {"driver_id": [1]}}, 404, "feature_service"),
    (
        {"feature_service": ["driver_activity_v1"], "entities": {"driver_id": [1]}},
        400,
        "feature_service",
    ),
    ({"features": ["driver_activity:nope"], "entities": {"driver_id": [1]}}, 404, "features"),
    ({"features": ["no_view:trips_1h"], "entities": {"driver_id": [1]}}, 404, "features"),
    ({"features": ["trips_1h"], "entities": {"driver_id": [1]}}, 400, "features"),
    ({"features": [["driver_activity:trips_1h"]], "entities": {"driver_id": [1]}}, 400, "features"),
    ({"entities": {"driver_id": [1]}}, 400, "feature_service"),
    (
        {
            "feature_service": "driver_activity_v1",
            "features": ["driver_activity:trips_1h"],
            "entities": {"driver_id": [1]},
        },
        400,
        "feature_service",
    ),
    (
        {
            "feature_service": "driver_activity_v1",
            "entities": {"driver_id": [1]},
            "full_feature_names": "yes",
        },
        400,
        "full_feature_names",
    ),
    (
        {
            "feature_service": "driver_trips_v1",
            "entities": {"driver_id": [1, 2], "request_timestamp": [AT]},
        },
        400,
        "entities",
    ),
    (
        {
            "feature_service": "driver_trips_v1",
            "entities": {"driver_id": [1], "request_timestamp": ["2026-01-01T00:00:00"]},
        },
        400,
        "request_timestamp[0]",
    ),
    (
        {
            "feature_service": "driver_trips_v1",
            "entities": {"driver_id": [1], "request_timestamp": ["soon"]},
        },
        400,
        "request_timestamp[0]",
    ),
    (
        {
            "feature_service": "driver_trips_v1",
            "entities": {"driver_id": [1], "request_timestamp": [True]},
        },
        400,
        "request_timestamp[0]",
    ),
    (
        {"feature_service": "driver_activity_v1", "entities": {"driver_id": list(range(1001))}},
        413,
        "driver_id",
    ),
    (b"driver_id=1001", 400, "body"),
    (b"[1001]", 400, "body"),
    (
        b'{"feature_service": "driver_activity_v1", "feature_service": "driver_trips_v1"}',
        400,
        "feature_service",
    ),
    (b"\xff\xfe{}", 400, "body"),
]


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(request, served_stores):
    with running_server(served_stores[request.param]) as (port, app):
        yield port, app


@pytest.fixture(scope="module")
def activity(feast_conf) -> pd.DataFrame:
    return pd.read_parquet(feast_conf[1] / "features" / "driver_activity")


@pytest.fixture(scope="module")
def latest(activity) -> pd.DataFrame:
    return latest_per_driver(activity)


def _assert_values(answer: dict, expected: pd.DataFrame, drivers: list[int]) -> None:
    names = answer["metadata"]["feature_names"]
    for feature in ACTIVITY:
        values = answer["results"][names.index(feature)]["values"]
        wanted = expected.loc[drivers, feature].astype(float).to_numpy()
        np.testing.assert_allclose(np.array(values, dtype=float), wanted, err_msg=feature)


def test_every_mistake_is_a_4xx_naming_its_field_and_the_connection_answers_on(
    server, activity, caplog
):
    port, app = server
    drivers = sorted(activity["driver_id"].unique().tolist())[:2]
    good = {**GOOD, "entities": {"driver_id": drivers, "request_timestamp": [ASKED] * 2}}
    expected = windows_at(activity, drivers, pd.Timestamp(ASKED))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, answer = post(connection, good)
    assert status == 200, answer
    socket_before = connection.sock
    for body, status_wanted, field in CATALOGUE:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trip_features.feature_serving"):
            status, answer = post(connection, body)
        assert (status, answer.get("field")) == (status_wanted, field), (body, answer)
        assert answer["error"] and "\n" not in answer["error"] and len(answer["error"]) < 300
        logged = [r for r in caplog.records if r.name == "trip_features.feature_serving"]
        assert len(logged) == 1 and logged[0].exc_info is None, [r.getMessage() for r in logged]
        assert field in logged[0].getMessage()
        # The same connection answers the next good request, and answers it right.
        status, answer = post(connection, good)
        assert status == 200, answer
        _assert_values(answer, expected, drivers)
        assert connection.sock is socket_before, f"the connection was dropped after {body!r}"


def test_a_lookup_answers_the_windows_at_its_time_and_a_view_its_latest_row(
    server, activity, latest
):
    port, _ = server
    drivers = latest.index.tolist()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    at = {"driver_id": drivers, "request_timestamp": [ASKED] * len(drivers)}
    status, answer = post(connection, {"feature_service": "driver_activity_v1", "entities": at})
    assert status == 200, answer
    _assert_values(answer, windows_at(activity, drivers, pd.Timestamp(ASKED)), drivers)
    per_trip = [f"driver_activity:{f}" for f in ACTIVITY]  # each driver's last trip's windows
    status, answer = post(connection, {"features": per_trip, "entities": at})  # inside its ttl
    assert status == 200, answer
    _assert_values(answer, latest, drivers)
    # Without a request time, the server's clock: months after the tests' trips, no trip in
    # any window (counts of 0, not the last trip's).
    body = {"feature_service": "driver_activity_v1", "entities": {"driver_id": drivers}}
    status, answer = post(connection, body)
    names = answer["metadata"]["feature_names"]
    assert status == 200 and set(answer["results"][names.index("trips_7d")]["values"]) == {0}
    # A driver never seen gets counts of 0 and null distances, not a refusal; the request time
    # is taken in Unix seconds and in ISO-8601 with a zone.
    body = {
        "feature_service": "driver_trips_v1",
        "entities": {"driver_id": [1, 1], "request_timestamp": [AT, "2026-01-03T10:00:00+00:00"]},
    }
    status, answer = post(connection, body)
    assert status == 200, answer
    names = answer["metadata"]["feature_names"]
    assert answer["results"][names.index("trips_24h")]["values"] == [0, 0]  # an unknown driver
    assert answer["results"][names.index("mean_dist_24h")]["values"] == [None, None]
    assert answer["results"][names.index("request_day_of_week")]["values"] == [3, 5]
    assert answer["results"][names.index("request_hour_of_day")]["values"] == [0, 10]


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("POST", "/write-to-online-store", 404),
        ("POST", "/push", 404),
        ("POST", "/materialize", 404),
        ("POST", "/materialize-incremental", 404),
        ("POST", "/chat", 404),
        ("GET", "/docs", 404),
        ("GET", "/get-online-features", 405),
        ("DELETE", "/get-online-features", 405),
    ],
)
def test_only_lookups_health_and_metrics_are_served(server, method, path, status):
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=b"{}" if method == "POST" else None)
    answer = connection.getresponse()
    assert answer.status == status
    assert answer.getheader("content-type") == "application/json"
    assert "error" in json.loads(answer.read())


def test_health_and_metrics_count_what_was_answered(server):
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def count(status: int) -> float:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
        line = rf'trip_features_http_requests_total{{route="/get-online-features",status="{status}"}} (\S+)'
        found = re.search(line, text)
        return float(found.group(1)) if found else 0.0

    before = {s: count(s) for s in (200, 400)}
    for _ in range(3):
        post(connection, {**GOOD, "entities": {"driver_id": ["x"]}})
    post(connection, GOOD)
    assert count(400) == before[400] + 3 and count(200) == before[200] + 1
    connection.request("GET", "/health")
    health = connection.getresponse()
    assert health.status == 200
    body = json.loads(health.read())
    assert "driver_activity_v1" in body["feature_services"]
    # Freshness: every online view is materialized up to the tests' end, said in the health
    # answer, in each lookup's metadata and as a metric
    until = {
        view: FULL_END_UTC
        for view in ("driver_activity", "driver_activity_recent_trips", "trips_stats_3h")
    }
    assert body["materialized_until"] == until
    assert post(connection, GOOD)[1]["metadata"]["materialized_until"] == until
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    found = re.search(
        r'trip_features_materialized_until_seconds\{view="driver_activity_recent_trips"\} (\S+)',
        text,
    )
    assert float(found.group(1)) == pd.Timestamp(FULL_END_UTC).timestamp()


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:6566", "127.0.0.1.evil.example", ""]
)
def test_a_host_name_the_server_does_not_answer_to_is_refused(server, host):
    """A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing."""
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("POST", "/get-online-features", skip_host=True)
    connection.putheader("Host", host)
    body = json.dumps(GOOD).encode()
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    answer = connection.getresponse()
    assert answer.status == 400
    assert json.loads(answer.read())["field"] == "host"
    for allowed in (f"127.0.0.1:{port}", "localhost", f"[::1]:{port}"):
        connection.request("POST", "/get-online-features", body=body, headers={"Host": allowed})
        answer = connection.getresponse()
        assert answer.status == 200, answer.read()
        answer.read()
