"""The windows at each training row's time, computed in the driver (small inputs) and in Spark
(an Arrow UDF): both equal the brute-force oracle at adversarial moments, row for row, and rows
without a key or a time get nulls, not zeros."""

import numpy as np
import pytest

from tests.oracles import adversarial_queries, adversarial_trips, windows_at_times_oracle
from transforms.kernels.time_columns import window_micros
from trip_features.offline_store import temporal_windows

WINDOWS = {
    "trips_1h": ("count", "1h", None),
    "trips_24h": ("count", "24h", None),
    "mean_dist_24h": ("mean", "24h", "trip_dist"),
    "max_dist_24h": ("max", "24h", "trip_dist"),
    "max_dist_15m": ("max", "15min", "trip_dist"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    trips = adversarial_trips(rows=1500)
    queries = adversarial_queries(trips, ["1h", "24h", "15min"]).reset_index(drop=True)
    queries["row"] = np.arange(len(queries))
    queries.loc[:4, "driver_id"] = None  # no key: no query
    folder = tmp_path_factory.mktemp("windows")
    trips.to_parquet(folder / "trips.parquet", coerce_timestamps="us")
    return trips, queries, folder / "trips.parquet"


@pytest.mark.parametrize("where", ["driver", "spark"])
def test_windows_at_rows_equal_the_oracle(spark, inputs, where, monkeypatch):
    trips, queries, path = inputs
    if where == "spark":
        monkeypatch.setattr(temporal_windows, "IN_DRIVER_ROWS", 0)
    rows = spark.createDataFrame(queries.astype({"driver_id": "Int64"}))
    source = spark.read.parquet(str(path))
    assert temporal_windows.in_driver(rows, source) == (where == "driver")
    plan = {n: (how, window_micros(w), of) for n, (how, w, of) in WINDOWS.items()}
    got = (
        temporal_windows.with_windows_at_rows(
            rows,
            "row",
            "driver_id",
            "event_timestamp",
            source,
            "driver_id",
            "event_timestamp",
            plan,
            {n: f"out_{n}" for n in plan},
        )
        .toPandas()
        .set_index("row")
        .sort_index()
    )
    assert len(got) == len(queries)
    asked = queries.iloc[5:]
    expected = windows_at_times_oracle(
        trips, asked, {n: (how, w) for n, (how, w, _) in WINDOWS.items()}
    )
    for name in WINDOWS:
        np.testing.assert_allclose(
            got.loc[asked["row"], f"out_{name}"].astype(float).to_numpy(),
            expected[name].astype(float).to_numpy(),
            rtol=1e-12,
            err_msg=f"{name} ({where})",
        )
        assert got.loc[queries["row"][:5], f"out_{name}"].isna().all(), name
