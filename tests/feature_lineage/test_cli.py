"""`python -m jobs.lineage`: trees, paths, pictures, and clear errors."""

from jobs.lineage import main
from tests.required_programs import required_program


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upstream_tree_of_a_service(capsys):
    code, out, _ = run(capsys, "upstream", "driver_activity_v1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "driver_activity_v1 (service)"
    assert "└── driver_activity_now_view (on demand view driver_activity_now)" in lines[1]
    assert "driver_activity_recent_trips_view (view driver_activity_recent_trips)" in out
    for name in ("driver_activity (table)", "driver_windowed (transform)", "trips_raw (input)"):
        assert name in out
    assert "trips_stats_3h" not in out


def test_path_from_a_column_to_a_service(capsys):
    code, out, _ = run(capsys, "path", "event_timestamp", "driver_trips_v1")
    assert code == 0
    paths = [line.split(" -> ") for line in out.splitlines()]
    assert ["event_timestamp", "day_of_week", "request_calendar_view", "driver_trips_v1"] in paths
    assert all(p[0] == "event_timestamp" and p[-1] == "driver_trips_v1" for p in paths)
    code, out, _ = run(capsys, "path", "driver_trips_v1", "trip_dist")
    assert code == 0 and "no path" in out


def test_mermaid_of_a_selection(capsys):
    code, out, _ = run(capsys, "downstream", "hour_of_day", "--format", "mermaid")
    assert code == 0 and out.startswith("flowchart LR")
    assert "hour_of_day --> trips_stats_3h" in out
    assert "driver_activity" not in out


def test_unknown_node_says_what_exists(capsys, caplog):
    code, _, _ = run(capsys, "upstream", "trips_1hour")
    assert code == 2
    assert "'trips_1hour' is not in the lineage graph; did you mean trips_1h" in caplog.text


def test_pictures_without_graphviz_say_what_to_install(capsys, caplog, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    code, _, _ = run(capsys, "graph", "--format", "svg", "--output", str(tmp_path / "g.svg"))
    assert code == 2
    assert "needs Graphviz's `dot` program" in caplog.text
    assert not (tmp_path / "g.svg").exists()


def test_svg_of_the_whole_graph(capsys, tmp_path):
    required_program("dot", package="graphviz")
    target = tmp_path / "lineage.svg"
    code, out, _ = run(capsys, "graph", "--format", "svg", "--output", str(target))
    assert code == 0 and str(target) in out
    svg = target.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "driver_trips_v1 (service)" in svg
