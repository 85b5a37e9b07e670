"""What one client may take from the server, each limit from conf: a body too big (413), too many
keys (413), a request that never arrives whole (408), too many open connections (429), endless
headers (431). A refused client never holds the server back from the others."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from tests.feature_serving.conftest import post, running_server

pytestmark = pytest.mark.slow  # starts processes or servers: the full suite runs it

GOOD = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001]}}
LIMITS = [
    "serving.limits.max_body_bytes=2k",
    "serving.limits.max_keys_per_request=10",
    "serving.limits.read_timeout_seconds=1",
    "serving.limits.keep_alive_seconds=5",
    "serving.limits.max_connections=8",
]


@pytest.fixture(scope="module")
def server(served_stores):
    with running_server(served_stores["sqlite"], *LIMITS) as (port, app):
        yield port, app


def _raw(port: int) -> socket.socket:
    link = socket.create_connection(("127.0.0.1", port), timeout=10)
    return link


def _answer_of(link: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the one answer on `link` before it closes."""
    data = b""
    while chunk := link.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_body_over_the_limit_is_413_declared_or_streamed(server):
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, answer = post(connection, b" " * 3000 + json.dumps(GOOD).encode())
    assert (status, answer["field"]) == (413, "body")
    assert "serving.limits.max_body_bytes" in answer["error"]
    # Chunked, no length declared: counted as it arrives.
    link = _raw(port)
    head = (
        b"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    )
    link.sendall(head + b"".join(b"400\r\n" + b" " * 1024 + b"\r\n" for _ in range(4)))
    assert _answer_of(link)[0] == 413
    status, answer = post(http.client.HTTPConnection("127.0.0.1", port, timeout=10), GOOD)
    assert status == 200


def test_more_keys_than_the_limit_is_413_and_the_limit_itself_is_answered(server):
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, answer = post(connection, {**GOOD, "entities": {"driver_id": list(range(11))}})
    assert (status, answer["field"]) == (413, "driver_id")
    status, answer = post(connection, {**GOOD, "entities": {"driver_id": list(range(10))}})
    assert status == 200 and len(answer["results"][0]["values"]) == 10


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"GET /hea"],
)
def test_a_request_that_never_arrives_whole_is_408_and_closed(server, sent):
    port, _ = server
    link = _raw(port)
    link.sendall(sent)
    began = time.monotonic()
    status, answer = _answer_of(link)
    waited = time.monotonic() - began
    assert status == 408 and "serving.limits.read_timeout_seconds" in answer["error"]
    assert 0.8 < waited < 5


def test_a_body_that_stops_half_way_is_408_and_the_app_is_told(server):
    port, _ = server
    link = _raw(port)
    body = json.dumps(GOOD).encode()
    link.sendall(
        b"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
        + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    assert _answer_of(link)[0] == 408


def test_a_slow_but_whole_request_on_a_kept_connection_is_answered(server):
    """The deadline is per request: a connection used for many requests, each whole in time,
    lives on (until it idles past keep_alive_seconds)."""
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(3):
        assert post(connection, GOOD)[0] == 200
        time.sleep(1.2)  # longer than the read deadline, shorter than keep-alive
    link = connection.sock
    assert post(connection, GOOD)[0] == 200 and connection.sock is link


def test_connections_over_the_limit_are_429_and_the_others_are_served(server):
    port, app = server
    held = [_raw(port) for _ in range(8)]
    try:
        time.sleep(0.2)
        extra = _raw(port)
        status, answer = _answer_of(extra)
        assert status == 429 and "serving.limits.max_connections" in answer["error"]
    finally:
        for link in held:
            link.close()
    time.sleep(0.2)
    assert post(http.client.HTTPConnection("127.0.0.1", port, timeout=10), GOOD)[0] == 200
    text = app.metrics.exposition().decode()
    assert 'trip_features_http_refused_connections_total{reason="connections"}' in text


def test_endless_headers_are_431(server):
    port, _ = server
    link = _raw(port)
    link.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        for _ in range(100):
            link.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
    except OSError:
        pass  # the server closed its side: the answer is read below
    assert _answer_of(link)[0] == 431


def test_half_sent_requests_do_not_stall_lookups(server):
    """Clients that open connections and send half a request (a slowloris) take none of the
    lookups' time: other clients are answered while they hang, and they are closed at the
    deadline."""
    port, _ = server
    hanging = [_raw(port) for _ in range(5)]
    for link in hanging:
        link.sendall(b"POST /get-online-features HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(20):
        assert post(connection, GOOD)[0] == 200
    for link in hanging:
        assert _answer_of(link)[0] == 408
