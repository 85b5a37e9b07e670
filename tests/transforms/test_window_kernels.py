"""The compiled kernels against the brute-force oracles and against pandas' own rolling."""

import math

import numpy as np
import pandas as pd
import pytest

from tests.oracles import (
    adversarial_queries,
    adversarial_trips,
    driver_window_oracle,
    percentile_oracle,
    windows_at_times_oracle,
)
from transforms.kernels.time_columns import to_micros, window_micros
from transforms.kernels.window_kernels import (
    rolling_max,
    rolling_mean,
    rolling_percentile_rank,
    windows_at_queries,
    windows_by_group,
)
from transforms.rolling_windows import _rolling_percentile


@pytest.fixture(scope="module")
def trips():
    return adversarial_trips(rows=1200)


def _arrays(trips):
    return (
        to_micros(trips["event_timestamp"]),
        trips["trip_id"].to_numpy(),
        trips["trip_dist"].to_numpy(dtype=float, na_value=np.nan),
    )


@pytest.mark.parametrize("window", ["3h", "15min", "45min", "1d"])
def test_percentile_equals_brute_force(trips, window):
    ts, ids, dist = _arrays(trips)
    got = pd.Series(_rolling_percentile(ts, ids, dist, window_micros(window)), index=ids)
    expected = percentile_oracle(trips, window).reindex(ids)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    assert got.isna().sum() == trips["trip_dist"].isna().sum()


def test_percentile_equals_pandas_rolling_rank(trips):
    ordered = trips.sort_values(["event_timestamp", "trip_id"], kind="stable")
    expected = ordered.rolling("3h", on="event_timestamp")["trip_dist"].rank(pct=True)
    ts, ids, dist = _arrays(ordered)
    got = _rolling_percentile(ts, ids, dist, window_micros("3h"))
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=0, atol=1e-12)


def test_percentile_of_all_null_window_and_empty_input():
    ts = np.array([0, 10, 20], dtype=np.int64)
    got = rolling_percentile_rank(ts, np.array([np.nan, np.nan, 1.0]), 100)
    assert np.isnan(got[0]) and np.isnan(got[1]) and got[2] == 1.0
    assert len(rolling_percentile_rank(ts[:0], np.array([], dtype=float), 100)) == 0


PLAN = {
    "trips_1h": ("count", "1h"),
    "trips_24h": ("count", "24h"),
    "trips_7d": ("count", "7d"),
    "mean_dist_24h": ("mean", "24h"),
    "max_dist_24h": ("max", "24h"),
    "mean_dist_45min": ("mean", "45min"),
    "max_dist_30min": ("max", "30min"),
}


def test_driver_windows_equal_brute_force(trips):
    ts, ids, dist = _arrays(trips)
    plan = {name: (how, window_micros(w)) for name, (how, w) in PLAN.items()}
    got = pd.DataFrame(
        windows_by_group(trips["driver_id"].to_numpy(), ts, ids, dist, plan), index=ids
    )
    expected = driver_window_oracle(trips, PLAN).reindex(ids)
    for name in PLAN:
        np.testing.assert_allclose(
            got[name].to_numpy(),
            expected[name].to_numpy(dtype=float),
            rtol=1e-12,
            atol=1e-12,
            err_msg=name,
        )


def test_mean_does_not_drift_over_a_long_run():
    rng = np.random.default_rng(3)
    n = 200_000
    ts = np.cumsum(rng.integers(0, 5, size=n)).astype(np.int64)
    x = rng.lognormal(3, 2, size=n)  # wide range of magnitudes
    group = np.zeros(n, dtype=np.int64)
    got = rolling_mean(group, ts, x, 50)
    starts = np.searchsorted(ts, ts - 50, side="right")
    for i in rng.choice(n, size=300, replace=False):
        exact = math.fsum(x[starts[i] : i + 1]) / (i + 1 - starts[i])  # correctly rounded sum
        assert abs(got[i] - exact) <= 1e-12 * max(1.0, abs(exact)), (i, got[i], exact)


def test_groups_reset_windows():
    group = np.array([1, 1, 2, 2], dtype=np.int64)
    ts = np.array([0, 5, 6, 7], dtype=np.int64)
    x = np.array([9.0, 1.0, 2.0, np.nan])
    np.testing.assert_array_equal(rolling_max(group, ts, x, 100), [9.0, 9.0, 2.0, 2.0])
    np.testing.assert_array_equal(rolling_mean(group, ts, x, 100), [9.0, 5.0, 2.0, 2.0])


QUERY_WINDOWS = {
    "trips_1h": ("count", "1h"),
    "trips_24h": ("count", "24h"),
    "mean_dist_24h": ("mean", "24h"),
    "max_dist_24h": ("max", "24h"),
    "mean_dist_15m": ("mean", "15min"),
    "max_dist_15m": ("max", "15min"),
}


def test_windows_at_arbitrary_moments_equal_brute_force(trips):
    """Query rows count no row: the trips in (t - w, t] of their driver, ties at t in, trips at
    exactly t - w out, nothing before a driver's first trip, counts of 0 for unknown drivers."""
    queries = adversarial_queries(trips, ["1h", "24h", "15min"])
    expected = windows_at_times_oracle(trips, queries, QUERY_WINDOWS)
    rows = pd.concat(
        [
            trips[["driver_id", "event_timestamp", "trip_dist"]].assign(q=0),
            queries.assign(trip_dist=np.nan, q=1),
        ],
        ignore_index=True,
    )
    plan = {name: (how, window_micros(w)) for name, (how, w) in QUERY_WINDOWS.items()}
    got = windows_at_queries(
        rows["driver_id"].to_numpy(),
        to_micros(rows["event_timestamp"]),
        rows["q"].to_numpy(),
        rows["trip_dist"].to_numpy(dtype=float),
        plan,
    )
    at_queries = slice(len(trips), None)
    for name in QUERY_WINDOWS:
        np.testing.assert_allclose(
            got[name][at_queries], expected[name].to_numpy(dtype=float), rtol=1e-12, err_msg=name
        )
    counts = expected["trips_1h"]
    assert (counts == 0).sum() > 50 and (counts > 1).sum() > 50  # idle moments and busy ones
    assert expected["mean_dist_15m"].isna().sum() > 50


def test_the_documented_example_of_windows_at_the_moment_asked():
    """docs/feast.md: a driver with trips at 10:00 and 10:05, asked at four moments."""
    day = pd.Timestamp("2026-01-05", tz="UTC")
    trips = [day + pd.Timedelta(t) for t in ("10h", "10h5min")]
    asked = [day + pd.Timedelta(t) for t in ("10h5min", "10h30min", "11h2min", "11h30min")]
    ts = to_micros(pd.Series(trips + asked))
    got = windows_at_queries(
        np.zeros(len(ts), dtype=np.int64),
        ts,
        np.r_[np.zeros(2), np.ones(4)].astype(np.int8),
        np.ones(len(ts)),
        {"trips_1h": ("count", window_micros("1h"))},
    )
    assert got["trips_1h"][2:].tolist() == [2, 2, 1, 0]
