"""The project's on-demand views (the windows at the moment asked, the request's calendar),
computed in the project's store, answer exactly as Feast's own on-demand path (what `feast serve`
runs): names, order, values, statuses and times, for services and references in any order, for
known and unknown drivers; with full names too, where Feast's path answers none of them."""

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore

from definitions.feature_store import _expire_past_ttl, _request_times, feature_store, repo_config
from definitions.online_on_demand import _refs
from tests.jobs.feast_serving import own_materialized
from tests.oracles import windows_at
from tests.shipped_catalogue import WINDOWS

NOW = "driver_activity_now"
RECENT = "driver_activity_recent_trips"
REQUESTS = [
    "driver_activity_v1",
    "driver_trips_v1",
    [f"{NOW}:mean_dist_24h"],
    [f"{NOW}:max_dist_24h", f"{NOW}:trips_1h", "request_calendar:request_hour_of_day"],
    ["request_calendar:request_is_weekend", f"{NOW}:trips_7d", "driver_activity:trips_24h"],
    [f"{RECENT}:recent_trip_times_us", f"{NOW}:trips_24h", f"{NOW}:mean_dist_24h"],
]


@pytest.fixture(scope="module")
def served_conf(feast_conf, tmp_path_factory):
    conf, tmp = feast_conf
    own = tmp_path_factory.mktemp("online_windows")
    conf = own_materialized(conf, own, "2026-01-08T06:00:00Z")
    return conf, pd.read_parquet(tmp / "features" / "driver_activity")


def _moments(table: pd.DataFrame) -> list[pd.Timestamp]:
    """Before any trip, at trips, a second after, between trips with sub-second parts, and days
    after the materialization's end."""
    rng = np.random.default_rng(3)
    trips = pd.to_datetime(table["event_timestamp"], utc=True).sort_values().reset_index(drop=True)
    picked = trips[rng.choice(len(trips), 4)].tolist()
    between = pd.to_timedelta(rng.uniform(0, 3 * 3600, 4), unit="s")
    return [
        trips[0] - pd.Timedelta("1h"),
        *picked,
        *[t + pd.Timedelta("1s") for t in picked],
        *[t + d for t, d in zip(picked, between, strict=True)],
        pd.Timestamp("2026-01-10T00:00:00.5Z"),
    ]


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("features", REQUESTS, ids=str)
def test_the_views_answer_as_feasts_on_demand_path(served_conf, features, full):
    conf, table = served_conf
    project = feature_store(conf)
    feast = FeatureStore(config=repo_config(conf))  # Feast's own path, as `feast serve` runs
    asked = project.get_feature_service(features) if isinstance(features, str) else features
    drivers = [*sorted(table["driver_id"].unique())[:6], 999_999]  # and one never seen
    rows = [{"driver_id": d, "request_timestamp": t} for t in _moments(table) for d in drivers]
    ours = project.get_online_features(asked, rows, full_feature_names=full).proto
    # Feast's Python-mode views answer nothing with full names: compare with its short names
    theirs = feast.get_online_features(asked, rows).proto
    # the per-trip view's ttl applies online in the project's store (tested on its own)
    _expire_past_ttl(project, asked, _request_times(rows), theirs, False)
    names = list(theirs.metadata.feature_names.val)
    if full:
        view_of = {ref.split(":")[1]: ref.split(":")[0] for ref in _refs(project, asked)}
        names = [f"{view_of[n]}__{n}" if n in view_of else n for n in names]
    assert list(ours.metadata.feature_names.val) == names
    for name, mine, feasts in zip(names, ours.results, theirs.results, strict=True):
        assert mine == feasts, name


def test_the_windows_are_the_oracles_at_each_moment(served_conf):
    """Not a comparison of two empty answers: the windows hold trips, and equal the oracle."""
    conf, table = served_conf
    store = feature_store(conf)
    drivers = sorted(table["driver_id"].unique().tolist())
    at = pd.Timestamp("2026-01-08T05:59:59Z")
    rows = [{"driver_id": d, "request_timestamp": at} for d in drivers]
    answer = store.get_online_features(store.get_feature_service("driver_activity_v1"), rows)
    served = answer.to_df().set_index("driver_id").loc[drivers]
    expected = windows_at(table, drivers, at)
    assert (served["trips_24h"] > 0).any() and (served["trips_1h"] == 0).any()
    for name in WINDOWS:
        np.testing.assert_allclose(
            served[name].astype(float), expected[name].astype(float), err_msg=name
        )


def test_rows_without_the_drivers_key_are_refused_with_what_to_send(served_conf):
    conf, _ = served_conf
    store = feature_store(conf)
    rows = [{"request_timestamp": pd.Timestamp("2026-01-08T05:00:00Z")}]
    with pytest.raises(ValueError, match="send driver_id in each row"):
        store.get_online_features(store.get_feature_service("driver_activity_v1"), rows)
