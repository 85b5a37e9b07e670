"""The Feast UI over the project's registry and the quality page, rendered in headless Chromium;
bad input answered with a clear message."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from jobs import quality_report, ui
from tests.browser import is_blank, open_browser
from tests.jobs.feast_serving import PROJECT
from tests.processes import stop

pytestmark = pytest.mark.slow  # servers and a browser
PATHS = ("trips", "features", "registry", "online_store", "lineage_events")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the UI server exited: {process.stderr.read()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the UI server did not listen on {port} within {seconds} s")


def _start_ui(conf) -> tuple[subprocess.Popen, int]:
    """`python -m jobs.ui` on the tests' registry, on a free loopback port, listening."""
    port = _free_port()
    args = [sys.executable, "-m", "jobs.ui", "--port", str(port)]
    for key in PATHS:
        args += ["--set", f"paths.{key}={getattr(conf.paths, key)}"]
    process = subprocess.Popen(
        args, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(port, process)
    except BaseException:
        _stop(process)
        raise
    return process, port


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C (SIGINT) by pid; killed if it does not stop."""
    stop(process, signal.SIGINT, timeout=20)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's pages; stopped by its pid."""
    with open_browser() as chromium:
        yield chromium


def test_the_browser_waits_for_a_pages_timers_up_to_the_budget(browser, tmp_path):
    """What every rendered page here relies on: scripts run until the virtual-time budget ends
    (network answers first), in milliseconds of the page's own clock, not the test's."""
    page = tmp_path / "timer.html"
    page.write_text(
        '<div id="x">before</div><script>'
        "setTimeout(() => { document.getElementById('x').textContent = 'after'; }, 3000);"
        "</script>"
    )
    assert '<div id="x">after</div>' in browser.rendered(page.as_uri(), wait_ms=5000)
    assert '<div id="x">before</div>' in browser.rendered(page.as_uri(), wait_ms=100)


@pytest.fixture(scope="module")
def ui_server(feast_conf):
    """The UI server for this module's tests; stopped by its pid."""
    process, port = _start_ui(feast_conf[0])
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        _stop(process)


def test_the_ui_shows_every_view_and_service_with_descriptions_and_code_versions(
    ui_server, feast_conf, browser, tmp_path
):
    from definitions.feature_store import feature_store

    base, _ = ui_server
    conf, _ = feast_conf
    store = feature_store(conf)
    views = browser.rendered(f"{base}/p/{store.project}/feature-view")
    for view in ("driver_activity", "trips_stats_3h", "request_calendar"):
        assert view in views, f"{view} missing from the rendered feature view list"
    services = browser.rendered(f"{base}/p/{store.project}/feature-service")
    for service in store.list_feature_services():
        assert service.name in services
    activity = store.get_feature_view("driver_activity")
    page = browser.rendered(f"{base}/p/{store.project}/feature-view/driver_activity")
    for shown in (activity.description, activity.owner, activity.tags["code_version"]):
        assert shown in page, f"{shown!r} is not on the rendered view page"
    feature = browser.rendered(
        f"{base}/p/{store.project}/feature-view/driver_activity/feature/trips_24h"
    )
    assert activity.features[1].description in feature  # from the feature catalogue
    service = store.get_feature_service("driver_trips_v1")
    shown = browser.rendered(f"{base}/p/{store.project}/feature-service/{service.name}")
    assert service.description in shown and service.owner in shown
    entity = store.get_entity("driver")
    shown = browser.rendered(f"{base}/p/{store.project}/entity/{entity.name}")
    assert entity.description in shown and entity.owner in shown
    on_demand = store.get_on_demand_feature_view("request_calendar")
    assert on_demand.description in browser.rendered(
        f"{base}/p/{store.project}/feature-view/request_calendar"
    )
    shot = browser.screenshot(
        f"{base}/p/{store.project}/feature-view/driver_activity", tmp_path / "v.png"
    )
    assert not is_blank(shot)


def _ask(base: str, method: str, path: str, host: str | None = None) -> tuple[int, bytes, dict]:
    import http.client

    port = int(base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Host": host} if host is not None else {}
    connection.request(
        method, path, body=b"{}" if method in ("POST", "PUT", "PATCH") else None, headers=headers
    )
    answer = connection.getresponse()
    return answer.status, answer.read(), dict(answer.getheaders())


def test_the_ui_is_read_only_serves_only_the_project_and_checks_the_host(ui_server, feast_conf):
    """As a hostile page or client would try it: the registry cannot be changed, Feast's demo
    registry is not served, other Host names get nothing, and pages load nothing from elsewhere."""
    from definitions.feature_store import feature_store

    base, _ = ui_server
    before = sorted(s.name for s in feature_store(feast_conf[0]).list_data_sources())
    status, body, _ = _ask(base, "GET", "/api/v1/data_sources?project=trip_features")
    assert status == 200 and b"trip_request" in body  # reads work
    for method, path in (
        ("DELETE", "/api/v1/data_sources/trip_request?project=trip_features"),
        ("POST", "/api/v1/feature_views"),
        ("PUT", "/api/v1/entities/driver"),
        ("PATCH", "/api/v1/feature_services/driver_trips_v1"),
    ):
        status, body, _ = _ask(base, method, path)
        assert status == 405 and json.loads(body)["field"] == "method", (method, path)
    assert sorted(s.name for s in feature_store(feast_conf[0]).list_data_sources()) == before
    for path in (
        "/registry.db",
        "/rag_registry.db",
        "/data.json",
        "/empty_registry.json",
        "/api/mlflow-runs",
        "/demo-custom-tabs/x",
        "/docs",
    ):
        assert _ask(base, "GET", path)[0] == 404, path
    for host in ("evil.example", "evil.example:80", ""):
        status, body, _ = _ask(base, "GET", "/projects-list.json", host=host)
        assert status == 400 and json.loads(body)["field"] == "host", host
    status, body, headers = _ask(base, "GET", "/projects-list.json", host="localhost")
    assert status == 200
    assert [p["id"] for p in json.loads(body)["projects"]] == ["trip_features"]
    assert "default-src 'self'" in headers["content-security-policy"]


def test_lineage_and_quality_pages_beside_the_ui(ui_server, browser):
    base, _ = ui_server
    lineage = browser.rendered(f"{base}/lineage/driver_activity_now_view", wait_ms=2000)
    assert "Lineage of driver_activity_now_view (on demand view driver_activity_now)" in lineage
    assert (
        "The windows of driver_activity at the request's time, from the driver's recent" in lineage
    )
    assert "driver_windowed" in lineage and "driver_trips_v1" in lineage
    per_trip = browser.rendered(f"{base}/lineage/driver_activity_view", wait_ms=2000)
    assert "Per trip of a driver: trip counts and distances over sliding windows." in per_trip
    quality = browser.rendered(f"{base}/quality", wait_ms=2000)
    assert 'id="counts"' in quality


def test_ctrl_c_stops_the_server(feast_conf):
    process, port = _start_ui(feast_conf[0])
    try:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    finally:
        _stop(process)
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}/p/" in out and out.rstrip().endswith("stopped")


def _numbers(dom: str, attribute: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(rf'{attribute}="([^"]+)">(\d+)<', dom)}


@pytest.fixture(scope="module")
def broken_run(spark, feast_conf, tmp_path_factory):
    """A feature run over trips with broken rows of two kinds, on two dates at least."""
    from jobs import compute_features
    from trip_features.storage.sample_trips import generate_trips, write_trips

    conf, _ = feast_conf
    tmp = tmp_path_factory.mktemp("broken")
    frame = generate_trips(rows=3000, days=3, seed=5, drivers=20)
    frame.loc[frame.index[::97], "trip_dist"] = -1.0  # negative_distance
    frame.loc[frame.index[5::301], "trip_dist"] = 900.0  # absurd_distance
    write_trips(frame, tmp / "trips")
    report = compute_features.run(spark, conf, trips=str(tmp / "trips"), out=str(tmp / "out"))
    return tmp / "out" / "_reports", report


def test_the_quality_page_shows_the_json_reports_numbers(broken_run, browser, tmp_path):
    reports, run = broken_run
    report = json.loads((reports / "latest.json").read_text())
    assert report["run_id"] == run.run_id
    assert set(report["quarantine_reasons"]) == {"negative_distance", "absurd_distance"}
    assert len(report["quarantine_by_date"]) >= 2
    by_date = {}
    for counts in report["quarantine_by_date"].values():
        for rule, n in counts.items():
            by_date[rule] = by_date.get(rule, 0) + n
    assert by_date == report["quarantine_reasons"]  # the chart's numbers add up
    page = reports / f"{report['run_id']}.html"
    assert page.exists() and (reports / "latest.html").read_text() == page.read_text()
    dom = browser.rendered(page.as_uri(), wait_ms=1000)
    measures = _numbers(dom, "data-measure")
    for key in ("trips_read", "trips_in_range", "trips_accepted", "trips_quarantined"):
        assert measures[key] == report[key], key
    assert report["trips_quarantined"] == sum(report["quarantine_reasons"].values()) > 0
    assert _numbers(dom, "data-rule") == report["quarantine_reasons"]
    assert _numbers(dom, "data-table-rows") == {t: i["rows"] for t, i in report["tables"].items()}
    nulls = _numbers(dom, "data-nulls")
    for table, info in report["tables"].items():
        for column, stats in info["columns"].items():
            assert nulls[f"{table}.{column}"] == stats["nulls"]
    assert dom.count("<svg") == 2  # quarantine by date, nulls per column: inline, no network
    assert not re.search(r'(src|href)="https?://', page.read_text())  # nothing to fetch
    assert not is_blank(browser.screenshot(page.as_uri(), tmp_path / "q.png", "1200,1600", 1000))


def test_bad_input_is_answered_with_what_to_do(feast_conf, tmp_path, capsys):
    conf, _ = feast_conf
    missing = ["--set", f"paths.registry={tmp_path / 'none' / 'registry.db'}"]
    assert ui.main(missing) == 2
    said = capsys.readouterr().err
    assert "no Feast registry at" in said and "jobs.register" in said
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ui.UIError, match=f"port {port} on 127.0.0.1 is in use"):
            ui.chosen_port(port)
    assert quality_report.main(["--out", str(tmp_path)]) == 2
    assert "no feature run has written a report in" in capsys.readouterr().err
    assert os.path.exists(quality_report.run(conf.paths.features))
