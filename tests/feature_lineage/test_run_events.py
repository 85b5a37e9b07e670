"""OpenLineage run events without Spark: states, parent runs, transports and their errors."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from trip_features.feature_lineage.run_events import Dataset, job_run
from trip_features.runtime.config import ConfigError, load_config
from trip_features.runtime.settings import Settings


def _conf(tmp_path, **lineage) -> Settings:
    given = {"transport": "file", "namespace": "trip-features", **lineage}
    return load_config(
        "local",
        [f"paths.lineage_events={tmp_path / 'events.jsonl'}"]
        + [f"lineage.{key}={value}" for key, value in given.items()],
    )


def _events(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_a_run_inside_another_names_it_as_parent(tmp_path):
    conf = _conf(tmp_path)
    source = Dataset("file", "/data/trips")
    with job_run(conf, "pipeline"), job_run(conf, "compute_features", inputs=[source]) as run:
        run.outputs = [Dataset("file", "/data/features/t", columns={"x": [(source, "x")]}, rows=3)]
    events = _events(tmp_path)
    states = [(e["job"]["name"], e["eventType"]) for e in events]
    assert states == [
        ("pipeline", "START"),
        ("compute_features", "START"),
        ("compute_features", "COMPLETE"),
        ("pipeline", "COMPLETE"),
    ]
    pipeline_run = events[0]["run"]["runId"]
    parent = events[2]["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == pipeline_run
    assert (parent["job"]["namespace"], parent["job"]["name"]) == ("trip-features", "pipeline")
    assert "parent" not in events[0]["run"]["facets"]
    output = events[2]["outputs"][0]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 3
    field = output["facets"]["columnLineage"]["fields"]["x"]["inputFields"][0]
    assert (field["name"], field["field"]) == ("/data/trips", "x")
    assert field["transformations"][0]["subtype"] == "IDENTITY"


def test_a_failing_run_emits_fail_with_the_error(tmp_path):
    with pytest.raises(ValueError), job_run(_conf(tmp_path), "register"):
        raise ValueError("no registry at /nowhere: run jobs.register first")
    start, fail = _events(tmp_path)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert fail["run"]["runId"] == start["run"]["runId"]
    assert fail["run"]["facets"]["errorMessage"]["message"].startswith("no registry at /nowhere")


def test_transport_none_emits_nothing_and_http_needs_a_url(tmp_path):
    with job_run(_conf(tmp_path, transport="none"), "register"):
        pass
    assert not (tmp_path / "events.jsonl").exists()
    with pytest.raises(ConfigError, match="transport http needs lineage.url"):
        _conf(tmp_path, transport="http")
    with pytest.raises(ConfigError, match="Input should be 'file', 'console', 'http' or 'none'"):
        _conf(tmp_path, transport="kafka2")


class _Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (the handler's API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_posts_each_event_and_a_server_that_is_down_does_not_fail_the_job(
    tmp_path, unused_port, caplog
):
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with job_run(_conf(tmp_path, transport="http", url=url), "materialize"):
            pass
    finally:
        server.shutdown()
        server.server_close()
    assert [(p, e["eventType"]) for p, e in _Recorder.received] == [
        ("/api/v1/lineage", "START"),
        ("/api/v1/lineage", "COMPLETE"),
    ]
    down = _conf(tmp_path, transport="http", url=f"http://127.0.0.1:{unused_port}")
    with job_run(down, "materialize"):
        done = True
    assert done
    assert "OpenLineage START event of materialize not emitted" in caplog.text
