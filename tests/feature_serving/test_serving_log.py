"""The serving log: every answer of a feature service is written, row for row, with what a replay
needs; a full queue drops and counts; a clean stop of jobs.serve writes everything, and a SIGKILL
loses at most the answers of the last flush interval."""

import json
import os
import signal
import time
import urllib.request

import pandas as pd
import pytest

from definitions.feature_store import feature_store
from definitions.serving_log import LogSettings, ServingLog
from tests.jobs.feast_serving import own_materialized, start_project_serve
from trip_features.runtime.config import ConfigError, load_config

END = "2026-01-08T06:00:00Z"


@pytest.fixture(scope="module")
def logged_conf(feast_conf, tmp_path_factory):
    conf, tmp = feast_conf
    own = tmp_path_factory.mktemp("serving_log")
    conf = own_materialized(conf, own, END)
    drivers = sorted(pd.read_parquet(tmp / "features" / "driver_activity")["driver_id"].unique())
    return conf, own / "serving_log", [int(d) for d in drivers]


def _logged(folder, service: str) -> pd.DataFrame:
    path = folder / service
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def test_every_answer_of_a_service_is_logged_with_what_a_replay_needs(logged_conf):
    conf, folder, drivers = logged_conf
    store = feature_store(conf)
    service = store.get_feature_service("driver_trips_v1")
    asked = [
        [{"driver_id": d, "request_timestamp": pd.Timestamp(END) - pd.Timedelta(m, "min")}]
        for d, m in zip(drivers[:5], [0, 7, 61, 300, 1440], strict=True)
    ]
    asked.append([{"driver_id": d} for d in [drivers[0], 999_999, drivers[1]]])  # now, unknown
    answers = [store.get_online_features(service, rows).to_dict() for rows in asked]
    store.get_online_features(["driver_activity_now:trips_1h"], asked[0])  # no service: no log
    store.serving_log.close()
    assert store.serving_log.recorded == store.serving_log.written == 8
    logged = _logged(folder, "driver_trips_v1").sort_values("__log_timestamp", kind="stable")
    assert len(logged) == 8 and logged["__request_id"].nunique() == len(asked)
    expected = pd.concat([pd.DataFrame(a) for a in answers], ignore_index=True)
    logged = logged.reset_index(drop=True)
    assert logged["driver_id"].tolist() == expected["driver_id"].tolist()
    for name in expected.columns.drop("driver_id"):
        view = next(
            p.name for p in service.feature_view_projections if name in {f.name for f in p.features}
        )
        pd.testing.assert_series_equal(
            logged[f"{view}__{name}"].astype(float),
            expected[name].astype(float),
            check_names=False,
            obj=name,
        )
    times = pd.to_datetime(logged["request_timestamp"], utc=True)
    sent = [r[0]["request_timestamp"] for r in asked[:5]]
    assert times[:5].tolist() == [pd.Timestamp(t) for t in sent]
    assert (times[5:] > pd.Timestamp(END)).all()  # asked now, by the server's clock
    registered = {v.name: v for v in store.list_feature_views()}
    code = json.loads(logged["__code_versions"].iloc[0])
    assert code["driver_activity"] == registered["driver_activity"].tags["code_version"]
    until = json.loads(logged["__materialized_until"].iloc[0])
    assert pd.Timestamp(until["driver_activity_recent_trips"]) == pd.Timestamp(END)
    assert logged["__registry_version"].nunique() == 1


def test_a_full_queue_drops_answers_and_counts_them(logged_conf):
    conf, folder, drivers = logged_conf
    store = feature_store(conf)
    store.serving_log = ServingLog(store, flush_seconds=3600, max_pending_rows=3)
    service = store.get_feature_service("driver_activity_v1")
    before = len(_logged(folder, "driver_activity_v1"))
    for driver in drivers[:5]:
        store.get_online_features(service, [{"driver_id": driver}])
    assert (store.serving_log.recorded, store.serving_log.dropped) == (3, 2)
    store.serving_log.close()
    assert store.serving_log.written == 3
    assert len(_logged(folder, "driver_activity_v1")) == before + 3


def test_settings_are_checked():
    assert LogSettings.from_conf(load_config("local", ["serving_log.enabled=false"])) is None
    with pytest.raises(ConfigError, match="serving_log.sample_rate is 2: Input should be less"):
        load_config("local", ["serving_log.sample_rate=2"])
    with pytest.raises(ValueError, match="paths.serving_log"):
        LogSettings.from_conf(load_config("local", ["paths.registry=s3://r/registry.db"]))
    beside = LogSettings.from_conf(load_config("local", ["paths.registry=/srv/feast/registry.db"]))
    assert beside.path == "/srv/feast/serving_log"


def _ask(port: int, driver: int) -> None:
    body = {"feature_service": "driver_activity_v1", "entities": {"driver_id": [driver]}}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/get-online-features",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def _answered_after_start(server, port: int, drivers: list[int]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            _ask(port, drivers[0])
            break
        except OSError:
            assert server.poll() is None, "jobs.serve exited"
            assert time.monotonic() < deadline, "jobs.serve did not answer within 120 s"
            time.sleep(0.1)
    for driver in drivers[1:]:
        _ask(port, driver)


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL after a flush interval"])
def test_jobs_serve_loses_no_logged_answer_on_a_stop(logged_conf, stop):
    """A clean stop writes what is queued; a SIGKILL loses what was queued, and a flush
    interval (conf: serving_log.flush_seconds, 1 s) after the answers nothing is queued."""
    conf, folder, drivers = logged_conf
    before = len(_logged(folder, "driver_activity_v1"))
    server, port = start_project_serve(conf)
    try:
        _answered_after_start(server, port, drivers[:10])
        if stop == "SIGTERM":
            server.send_signal(signal.SIGTERM)
        else:
            time.sleep(2.5)
            os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    assert len(_logged(folder, "driver_activity_v1")) == before + 10
