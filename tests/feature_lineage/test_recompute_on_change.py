"""A transform edited in a copy of the project: jobs.pipeline recomputes exactly the tables the
change reaches, registers their new code version, purges their online rows and loads the new
ones; the other table, its view and its online rows are left alone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.jobs.feast_serving import latest_per_driver
from tests.shipped_catalogue import WINDOWS
from transforms.feature_tables import TABLES
from trip_features.feature_lineage.code_versions import CODE_VERSION_TAG, SIDECAR
from trip_features.runtime.project_packages import PROJECT_PACKAGES

PROJECT = Path(__file__).resolve().parents[2]
ACTIVITY = WINDOWS  # every window the catalogue declares
# The edit: the Spark body of the per-driver windows adds 1000 to trips_1h.
ORIGINAL = '*[F.col("__windows")[name].alias(name) for name in plan],'
EDITED = (
    '*[(F.col("__windows")[name] + (1000 if name == "trips_1h" else 0)).alias(name) '
    "for name in plan],"
)


# jobs.pipeline's main, run `runs` times in one process, each run's output ended by a mark.
_RUNS = """
import sys
from jobs import pipeline
for _ in range(int(sys.argv[1])):
    code = pipeline.main(sys.argv[2:])
    for stream in (sys.stdout, sys.stderr):
        print("%s", code, file=stream, flush=True)
"""
_MARK = "--- pipeline run ended:"


def _pipeline(copy: Path, workspace: Path, runs: int = 1) -> list[str]:
    """The logs of `runs` runs of jobs.pipeline from `copy`, one after another in one process."""
    env = dict(os.environ, TRIP_FEATURES_HOME=str(workspace), PYTHONPATH=str(copy))
    args = [sys.executable, "-c", _RUNS % _MARK, str(runs), "--env", "local"]
    for setting in (
        "generate.rows=3000",
        "generate.days=3",
        "generate.drivers=30",
        "spark.conf.spark.sql.shuffle.partitions=2",
        "spark.conf.spark.driver.memory=1g",
    ):
        args += ["--set", setting]
    done = subprocess.run(args, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    outs, errs = done.stdout.split(_MARK), done.stderr.split(_MARK)
    assert len(outs) == len(errs) == runs + 1, done.stdout[-3000:] + done.stderr[-5000:]
    for out in outs[1:]:
        assert out.split("\n", 1)[0].strip() == "0", out[-3000:]
    return [out + err for out, err in zip(outs[:-1], errs[:-1], strict=True)]


def _summary_line(log: str, key: str) -> str:
    """The value of a line of the pipeline's printed summary."""
    for line in log.splitlines():
        if line.startswith(f"  {key} "):
            return line[len(key) + 2 :].strip()
    raise AssertionError(f"no summary line {key!r} in:\n{log[-3000:]}")


def _state(conf) -> dict:
    from definitions.feature_store import feature_store

    features = Path(conf.paths.features)
    views = {v.name: v for v in feature_store(conf).list_feature_views()}
    stats_file = next((features / "trips_stats_3h").glob("date=*/*.parquet"))
    activity = pd.read_parquet(features / "driver_activity")
    drivers = sorted(activity["driver_id"].unique().tolist())
    asked = activity["event_timestamp"].max().to_pydatetime()
    return {
        "tags": {name: v.tags[CODE_VERSION_TAG] for name, v in views.items()},
        "intervals": {name: len(v.materialization_intervals) for name, v in views.items()},
        "stats_inode": os.stat(stats_file).st_ino,
        "sidecars": {
            t: {p.read_text().strip() for p in (features / t).glob(f"date=*/{SIDECAR}")}
            for t in TABLES
        },
        "latest": latest_per_driver(activity),
        # each driver's latest per-trip rows, as the views serve them by reference
        "online": feature_store(conf)
        .get_online_features(
            features=[f"driver_activity:{f}" for f in ACTIVITY]
            + [f"trips_stats_3h:{f}" for f in ("hour_of_day", "percentile_dist_rolling_3h")],
            # asked at the last trip: inside the views' 1-day ttl, which counts from then
            entity_rows=[{"driver_id": d, "request_timestamp": asked} for d in drivers],
        )
        .to_df()
        .set_index("driver_id"),
    }


@pytest.mark.slow
def test_an_edited_transform_recomputes_and_refreshes_only_what_it_reaches(tmp_path, monkeypatch):
    copy, workspace = tmp_path / "project", tmp_path / "workspace"
    for folder in PROJECT_PACKAGES:
        shutil.copytree(
            PROJECT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    workspace.mkdir()
    monkeypatch.setenv("TRIP_FEATURES_HOME", str(workspace))
    from trip_features.runtime.config import load_config

    conf = load_config("local")

    (first_log,) = _pipeline(copy, workspace)
    # the trips are generated before the session starts: their small size is known to it
    assert "small inputs: the driver adds" in first_log
    before = _state(conf)
    refreshed = "driver_activity, driver_activity_recent_trips, trips_stats_3h"
    assert _summary_line(first_log, "online refreshed") == refreshed
    assert before["online"]["trips_1h"].max() < 1000

    windows = copy / "transforms" / "driver_windows.py"
    source = windows.read_text()
    assert source.count(ORIGINAL) == 1, "the edit's anchor moved: update ORIGINAL"
    windows.write_text(source.replace(ORIGINAL, EDITED))
    # The edited code runs twice in one process, as a notebook reruns a job in its session.
    second_log, third_log = _pipeline(copy, workspace, runs=2)
    after = _state(conf)

    # Exactly driver_activity was recomputed, re-registered and refreshed online, with the view
    # of recent trips the windows at request time read from it.
    assert _summary_line(second_log, "trips_stats_3h code").endswith("(up to date)")
    assert not _summary_line(second_log, "driver_activity code").endswith("(up to date)")
    assert (
        _summary_line(second_log, "online refreshed")
        == "driver_activity, driver_activity_recent_trips"
    )
    assert "purged the online rows of driver_activity, driver_activity_recent_trips" in second_log
    assert after["stats_inode"] == before["stats_inode"]  # the same file, hard-linked forward
    assert after["sidecars"]["trips_stats_3h"] == before["sidecars"]["trips_stats_3h"]
    assert after["tags"]["trips_stats_3h"] == before["tags"]["trips_stats_3h"]
    assert after["intervals"]["trips_stats_3h"] == before["intervals"]["trips_stats_3h"]
    assert after["tags"]["driver_activity"] != before["tags"]["driver_activity"]
    assert after["sidecars"]["driver_activity"] == {after["tags"]["driver_activity"]}

    # The new table is the old one with trips_1h + 1000, and the online store serves it only.
    new, old = after["latest"], before["latest"]
    pd.testing.assert_series_equal(new["trips_1h"], old["trips_1h"] + 1000)
    online = after["online"].loc[new.index]
    for name in ACTIVITY:
        pd.testing.assert_series_equal(
            online[name].astype(float), new[name].astype(float), check_names=False
        )
    assert (online["trips_1h"] >= 1001).all()
    stats = [c for c in before["online"].columns if c.endswith("rolling_3h") or c == "hour_of_day"]
    pd.testing.assert_frame_equal(after["online"][stats], before["online"][stats])

    # Nothing changed since: the next run recomputes and refreshes nothing.
    assert "every feature table was made by this code: none recomputed" in third_log
    assert _summary_line(third_log, "online refreshed") == "none (every view is current)"
    # (`after` was read after this run: the versions it registers are the second run's)
    assert _summary_line(second_log, "driver_activity code") == after["tags"]["driver_activity"]
    for table in TABLES:
        assert _summary_line(third_log, f"{table} code") == f"{after['tags'][table]} (up to date)"
    # Each run replays what it served (jobs.consistency): all equal, before and after the change
    for log in (first_log, second_log, third_log):
        assert _summary_line(log, "served vs offline").startswith("100.00% of "), log[-2000:]
