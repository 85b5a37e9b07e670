"""Register, training set, materialize, online lookup and the feature server (`jobs.serve`) on the
real definitions."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from definitions.feature_store import feature_store
from jobs import compute_features, materialize, register, training_set
from tests.jobs.feast_serving import ask_project_serve_all, latest_per_driver, served
from tests.oracles import shipped_windows, windows_at, windows_at_times_oracle
from tests.shipped_catalogue import COUNT_WINDOWS, WINDOWS
from trip_features.runtime.errors import JobError

PROJECT = Path(__file__).resolve().parents[2]
ACTIVITY = WINDOWS  # every window the catalogue declares


def test_register_twice_changes_nothing_the_second_time(feast_conf, capsys):
    conf, _ = feast_conf
    diff = register.run(conf, apply=False)
    assert "Created" not in diff and "Updated" not in diff


def test_a_plan_writes_nothing_and_still_shows_what_would_change(feast_conf, tmp_path):
    import os

    from trip_features.runtime.config import apply_override

    conf, _ = feast_conf
    before = {p: os.stat(p).st_mtime_ns for p in (conf.paths.registry, conf.paths.online_store)}
    events = Path(conf.paths.lineage_events)

    def lines() -> int:
        return events.read_text().count("\n") if events.exists() else 0

    written = lines()
    assert "Created" not in register.run(conf, apply=False)
    assert {p: os.stat(p).st_mtime_ns for p in before} == before
    assert lines() == written
    fresh = apply_override(conf, f"paths.registry={tmp_path / 'feast' / 'registry.db'}")
    fresh = apply_override(fresh, f"paths.online_store={tmp_path / 'feast' / 'online.db'}")
    assert "Created feature view" in register.run(fresh, apply=False)
    assert list(tmp_path.iterdir()) == []  # not even the folder


@pytest.fixture(scope="module")
def entity_rows(feast_conf) -> pd.DataFrame:
    """300 entity rows at trip times (10 before any data, 5 of an unknown driver), written to
    entities.parquet beside the features."""
    conf, tmp = feast_conf
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    rng = np.random.default_rng(1)
    entities = pd.DataFrame(
        {
            "driver_id": rng.choice(activity["driver_id"].unique(), size=300).astype("int64"),
            "event_timestamp": activity["event_timestamp"]
            .sample(300, random_state=2, replace=True)
            .to_numpy(),
            "label": np.arange(300),
        }
    )
    entities.loc[:9, "event_timestamp"] = pd.Timestamp("2025-01-01", tz="UTC")  # before any data
    entities.loc[10:14, "driver_id"] = 424242  # unknown driver
    entities["event_timestamp"] = entities["event_timestamp"].astype("datetime64[us, UTC]")
    entities.to_parquet(tmp / "entities.parquet", coerce_timestamps="us")
    return entities


@pytest.fixture
def training_entities_view(spark, feast_conf, entity_rows) -> str:
    """The entity rows as the Spark table `training_entities`."""
    _, tmp = feast_conf
    spark.read.parquet(str(tmp / "entities.parquet")).createOrReplaceTempView("training_entities")
    return "training_entities"


def test_training_set_equals_oracle(spark, feast_conf, entity_rows):
    conf, tmp = feast_conf
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    entities = entity_rows
    rows = training_set.run(
        spark, conf, str(tmp / "entities.parquet"), "driver_activity_v1", str(tmp / "ts")
    )
    assert rows == 300
    got = pd.read_parquet(tmp / "ts")
    assert got["label"].tolist() == list(range(300))
    # Windows at each row's own time (the table's rows are the driver's trips): rows before any
    # trip and unknown drivers get counts of 0 and null distances.
    expected = windows_at_times_oracle(activity, entities, shipped_windows())
    for name in ACTIVITY:
        np.testing.assert_allclose(
            got[name].astype(float), expected[name].astype(float), err_msg=name
        )
    assert (got.loc[:14, COUNT_WINDOWS] == 0).all().all()
    assert got.loc[:14, ["mean_dist_24h", "max_dist_24h"]].isna().all().all()
    assert (got["trips_1h"] == 0).sum() > 15  # idle moments are 0, not the last trip's count


@pytest.mark.slow
def test_training_set_from_sql_and_table(spark, feast_conf, training_entities_view):
    conf, tmp = feast_conf
    by_sql = training_set.run(
        spark,
        conf,
        "SELECT * FROM training_entities WHERE label < 50",
        "driver_activity_v1",
        str(tmp / "ts_sql"),
    )
    by_table = training_set.run(
        spark, conf, "training_entities", "driver_activity_v1", str(tmp / "ts_table")
    )
    assert (by_sql, by_table) == (50, 300)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp / "ts_sql"), pd.read_parquet(tmp / "ts_table").head(50)
    )


@pytest.mark.parametrize(
    "entities, service, message",
    [
        ("nowhere_table", "driver_activity_v1", "cannot read entity rows"),
        ("SELECT 1 AS x WHERE 1 = 0", "driver_activity_v1", "has no entity rows"),
        ("training_entities", "no_such_service", "unknown feature service 'no_such_service'"),
    ],
)
def test_training_set_errors_say_what_to_fix(
    spark, feast_conf, training_entities_view, entities, service, message
):
    conf, tmp = feast_conf
    with pytest.raises(JobError, match=message):
        training_set.run(spark, conf, entities, service, str(tmp / "ts_err"))


def _entities(tmp, rows: int = 40) -> pd.DataFrame:
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    return pd.DataFrame(
        {
            "driver_id": activity["driver_id"].head(rows).to_numpy(),
            "event_timestamp": activity["event_timestamp"].head(rows).to_numpy(),
            "label": np.arange(rows),
        }
    )


def test_a_training_set_never_replaces_data_it_did_not_write(spark, feast_conf, tmp_path):
    conf, tmp = feast_conf
    entities = tmp_path / "entities.parquet"
    _entities(tmp).to_parquet(entities, coerce_timestamps="us")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("years of work")
    with pytest.raises(JobError, match="is a folder of other files.*--overwrite"):
        training_set.run(spark, conf, str(entities), "driver_activity_v1", str(notes))
    assert (notes / "thesis.txt").read_text() == "years of work"
    for victim in (
        entities,
        Path(conf.paths.trips),
        Path(conf.paths.features),
        Path(conf.paths.features) / "driver_activity",
        tmp,
    ):
        with pytest.raises(JobError, match="an input of this job: write elsewhere"):
            training_set.run(
                spark, conf, str(entities), "driver_activity_v1", str(victim), overwrite=True
            )
    assert entities.exists() and any(Path(conf.paths.trips).iterdir())
    out = tmp_path / "ts"
    for _ in range(2):  # an earlier training set is replaced without asking
        assert training_set.run(spark, conf, str(entities), "driver_activity_v1", str(out)) == 40
    assert (
        training_set.run(
            spark, conf, str(entities), "driver_activity_v1", str(notes), overwrite=True
        )
        == 40
    )
    assert not (notes / "thesis.txt").exists() and len(pd.read_parquet(notes)) == 40


def test_pandas_nanosecond_entity_files_are_read_and_lossy_ones_refused(
    spark, feast_conf, tmp_path
):
    conf, tmp = feast_conf
    frame = _entities(tmp)
    frame.to_parquet(tmp_path / "us.parquet", coerce_timestamps="us")
    frame["event_timestamp"] = frame["event_timestamp"].astype("datetime64[ns, UTC]")
    frame.to_parquet(tmp_path / "ns.parquet")  # pandas' default: nanoseconds
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "ns.parquet").field("event_timestamp").type.unit == "ns"
    for name in ("us", "ns"):
        training_set.run(
            spark,
            conf,
            str(tmp_path / f"{name}.parquet"),
            "driver_activity_v1",
            str(tmp_path / f"ts_{name}"),
        )
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "ts_ns"), pd.read_parquet(tmp_path / "ts_us")
    )
    frame.loc[3, "event_timestamp"] += pd.Timedelta(nanoseconds=7)
    frame.to_parquet(tmp_path / "lossy.parquet")
    with pytest.raises(
        JobError, match="event_timestamp holds times with nanoseconds.*coerce_timestamps='us'"
    ):
        training_set.run(
            spark,
            conf,
            str(tmp_path / "lossy.parquet"),
            "driver_activity_v1",
            str(tmp_path / "ts_lossy"),
        )


def test_a_failing_entity_query_keeps_its_reason(spark, feast_conf, tmp_path):
    conf, _ = feast_conf
    query = "SELECT raise_error('labels are not ready') AS driver_id, current_timestamp() AS event_timestamp"
    with pytest.raises(JobError, match="labels are not ready"):
        training_set.run(spark, conf, query, "driver_activity_v1", str(tmp_path / "ts"))


def test_online_equals_the_training_set_at_the_same_moment(spark, feast_conf, tmp_path):
    """As a model server runs: materialized up to a moment, asked at it. At moments between
    trips, at night, and a day after many drivers' last trip (past the 1-day ttl of the per-trip
    statistics, inside the 7-day window): for every driver, the lookup equals the training set
    at that moment, and the windows equal the oracle."""
    from trip_features.runtime.config import apply_override

    conf, tmp = feast_conf
    conf = apply_override(conf, f"paths.registry={tmp_path / 'registry.db'}")
    conf = apply_override(conf, f"paths.online_store={tmp_path / 'online.db'}")
    register.run(conf)
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    drivers = sorted(activity["driver_id"].unique().tolist())
    snapshot = ["day_of_week", "hour_of_day", "percentile_dist_rolling_3h"]
    expired = 0
    for moment in ["2026-01-07T12:34:56Z", "2026-01-09T03:00:00Z", "2026-01-12T18:00:00Z"]:
        at = pd.Timestamp(moment)
        materialize.run(conf, start="2026-01-01", end=moment)
        served = materialize.lookup(conf, drivers, "driver_trips_v1", at.to_pydatetime())
        served = served.set_index("driver_id").loc[drivers]
        entities = pd.DataFrame({"driver_id": drivers, "event_timestamp": at})
        entities.to_parquet(tmp_path / "at.parquet", coerce_timestamps="us")
        out = str(tmp_path / f"ts_{at.value}")
        training_set.run(spark, conf, str(tmp_path / "at.parquet"), "driver_trips_v1", out)
        trained = pd.read_parquet(out).set_index("driver_id").loc[drivers]
        expected = windows_at(activity, drivers, at)
        for name in [*ACTIVITY, *snapshot]:
            np.testing.assert_allclose(
                served[name].astype(float),
                trained[name].astype(float),
                err_msg=f"{name} at {moment}",
            )
        for name in ACTIVITY:
            np.testing.assert_allclose(
                served[name].astype(float),
                expected[name].astype(float),
                err_msg=f"{name} at {moment}",
            )
        expired += int(served["percentile_dist_rolling_3h"].isna().sum())
    assert expired > 0  # the ttl was reached
    # The per-trip view serves each driver's latest row, null once it is older than its ttl.
    latest = latest_per_driver(activity)
    at = (activity["event_timestamp"].max() + pd.Timedelta("23h")).floor("s")  # some expired
    per_trip = (
        feature_store(conf)
        .get_online_features(
            features=[f"driver_activity:{name}" for name in ACTIVITY],
            entity_rows=[{"driver_id": d, "request_timestamp": at} for d in latest.index],
        )
        .to_df()
        .set_index("driver_id")
    )
    fresh = latest["event_timestamp"] >= at - pd.Timedelta("1d")
    assert 0 < fresh.sum() < len(fresh)
    for name in ACTIVITY:
        wanted = latest[name].astype(float).where(fresh)
        np.testing.assert_allclose(per_trip[name].astype(float), wanted, err_msg=name)


@pytest.mark.slow
def test_the_feature_server_answers_online_requests(feast_conf):
    """`jobs.serve` on the project's store (`feast serve` itself is asked in the Redis tests):
    windows at the request's time, and the request's calendar."""
    conf, tmp = feast_conf
    materialize.run(conf, start="2026-01-01", end="2026-01-12")
    # request times as JSON sends them: Unix seconds, or ISO-8601 texts in another zone
    seconds = [int(t.timestamp()) for t in REQUEST_TIMES]
    texts = [t.tz_convert("Asia/Tokyo").isoformat() for t in REQUEST_TIMES]
    trips_service = "driver_trips_v1"
    activity, *trips = ask_project_serve_all(
        conf,
        [
            {
                "feature_service": "driver_activity_v1",
                "entities": {"driver_id": [1000, 1001], "request_timestamp": [seconds[0]] * 2},
            }
        ]
        + [
            {
                "feature_service": trips_service,
                "entities": {"driver_id": [1000] * 4, "request_timestamp": times},
            }
            for times in (seconds, texts)
        ],
    )
    table = pd.read_parquet(tmp / "features" / "driver_activity")
    at = windows_at(table, [1000, 1001], pd.Timestamp(seconds[0], unit="s", tz="UTC"))
    assert served(activity, "trips_24h") == at["trips_24h"].tolist()
    expected = _request_calendar_oracle(REQUEST_TIMES)
    for answer in trips:
        for name in REQUEST_FEATURES:
            assert served(answer, name) == expected[name].tolist(), name


@pytest.mark.slow
@pytest.mark.metastore
def test_training_sets_over_catalog_tables_equal_those_over_folders(spark, conf_at, feast_conf):
    """With the catalog publication, Feast reads the views by name; the training sets of both
    services equal those read from the published folders, and so does the online store."""
    from trip_features.runtime.config import apply_override

    conf, tmp = feast_conf
    catalog = conf_at(tmp / "catalog", trips=tmp / "trips")
    for override in ("publication.kind=catalog", "publication.schema=feast_catalog"):
        catalog = apply_override(catalog, override)
    compute_features.run(spark, catalog)
    register.run(catalog)
    source = feature_store(catalog).get_data_source("driver_activity_source")
    assert source.table == "feast_catalog.driver_activity" and not source.path

    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    sample = activity.sample(400, random_state=3)
    entities = pd.DataFrame(
        {
            "driver_id": sample["driver_id"].astype("int64").to_numpy(),
            "event_timestamp": (sample["event_timestamp"] + pd.Timedelta("7min"))
            .astype("datetime64[us, UTC]")
            .to_numpy(),
        }
    )
    entities["request_timestamp"] = entities["event_timestamp"]
    entities.to_parquet(tmp / "catalog_entities.parquet", coerce_timestamps="us")
    for service in ("driver_activity_v1", "driver_trips_v1"):
        sets = {}
        for name, settings in (("folders", conf), ("catalog", catalog)):
            out = tmp / f"ts_{name}_{service}"
            training_set.run(
                spark, settings, str(tmp / "catalog_entities.parquet"), service, str(out)
            )
            sets[name] = pd.read_parquet(out).sort_values(["driver_id", "event_timestamp"])
        assert len(sets["catalog"]) == len(entities)
        pd.testing.assert_frame_equal(
            sets["catalog"].reset_index(drop=True), sets["folders"].reset_index(drop=True)
        )

    materialize.run(catalog, start="2026-01-01", end="2026-01-12")
    drivers = sorted(activity["driver_id"].unique().tolist())
    at = pd.Timestamp("2026-01-10T08:00:00Z")
    online = materialize.lookup(catalog, drivers, at=at.to_pydatetime()).set_index("driver_id")
    expected = windows_at(activity, drivers, at)
    for name in ACTIVITY:
        np.testing.assert_allclose(online[name].astype(float), expected[name].astype(float))


REQUEST_TIMES = pd.to_datetime(
    [
        "2026-01-04 23:59:59+00:00",  # Sunday, last second
        "2026-01-05 00:00:00+00:00",  # Monday midnight
        "2026-01-10 13:30:00+00:00",  # Saturday afternoon
        "2026-01-09 23:00:00+00:00",  # Friday night
    ],
    utc=True,
)
REQUEST_FEATURES = ["request_day_of_week", "request_is_weekend", "request_hour_of_day"]


def _request_calendar_oracle(times: pd.Series) -> pd.DataFrame:
    """Computed here from the times alone, not by the project's calendar functions."""
    utc = pd.DatetimeIndex(times).tz_convert("UTC")
    days = np.array([t.isoweekday() - 1 for t in utc])
    return pd.DataFrame(
        {
            "request_day_of_week": days,
            "request_is_weekend": (days >= 5).astype(int),
            "request_hour_of_day": [t.hour for t in utc],
        }
    )


def test_request_calendar_features_offline_and_online(spark, feast_conf):
    """The on-demand view's features of the request time, in training sets and online requests,
    equal calendar features computed independently; a request time in another zone counts in UTC."""
    conf, tmp = feast_conf
    activity = pd.read_parquet(tmp / "features" / "driver_activity")
    drivers = activity["driver_id"].drop_duplicates().head(len(REQUEST_TIMES)).astype("int64")
    entities = pd.DataFrame(
        {
            "driver_id": drivers.to_numpy(),
            "event_timestamp": REQUEST_TIMES.astype("datetime64[us, UTC]"),
            "request_timestamp": REQUEST_TIMES.astype("datetime64[us, UTC]"),
        }
    )
    entities.to_parquet(tmp / "request_entities.parquet", coerce_timestamps="us")
    out = tmp / "ts_request"
    training_set.run(
        spark, conf, str(tmp / "request_entities.parquet"), "driver_trips_v1", str(out)
    )
    offline = pd.read_parquet(out)
    assert sorted(offline["request_timestamp"]) == sorted(REQUEST_TIMES)
    assert all(str(offline[c].dtype) == "int32" for c in REQUEST_FEATURES)
    pd.testing.assert_frame_equal(
        offline[REQUEST_FEATURES],
        _request_calendar_oracle(offline["request_timestamp"]),
        check_dtype=False,
    )
    expected = _request_calendar_oracle(REQUEST_TIMES)

    store = feature_store(conf)
    service = store.get_feature_service("driver_trips_v1")
    in_new_york = [t.tz_convert("America/New_York").to_pydatetime() for t in REQUEST_TIMES]
    rows = [
        {"driver_id": int(d), "request_timestamp": t}
        for d, t in zip(drivers, in_new_york, strict=True)
    ]
    online = store.get_online_features(features=service, entity_rows=rows).to_df()
    pd.testing.assert_frame_equal(
        online[REQUEST_FEATURES].astype("int64"), expected.astype("int64")
    )
