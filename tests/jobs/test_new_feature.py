"""A new per-driver window is one declaration: computed, checked, registered and served online."""

import numpy as np
import pandas as pd
import pytest

from definitions.feature_store import feature_store
from jobs import compute_features, materialize, register
from tests.oracles import driver_window_oracle, windows_at_times_oracle
from trip_features.runtime.config import apply_override
from trip_features.storage.sample_trips import generate_trips, write_trips

DECLARATION = (
    "features.tables.driver_activity.features.trips_30m="
    "{kind: driver_window, aggregation: count, window: 30min, checks: {minimum: 1}}"
)


@pytest.mark.slow
def test_a_declared_window_is_computed_checked_registered_and_served(spark, conf_at, tmp_path):
    trips = generate_trips(rows=3_000, days=3, seed=13, drivers=15)
    write_trips(trips, tmp_path / "trips")
    conf = apply_override(conf_at(tmp_path), DECLARATION)

    report = compute_features.run(spark, conf)
    checks = {c["column"]: c for c in report.tables["driver_activity"]["checks"]}
    assert checks["trips_30m"]["passed"] and checks["trips_30m"]["minimum"] == 1
    activity = pd.read_parquet(tmp_path / "features" / "driver_activity").set_index("trip_id")
    oracle = driver_window_oracle(trips, {"trips_30m": ("count", "30min")})
    np.testing.assert_array_equal(
        activity["trips_30m"].sort_index().to_numpy(), oracle["trips_30m"].sort_index().to_numpy()
    )

    register.run(conf)
    view = feature_store(conf).get_feature_view("driver_activity")
    field = next(f for f in view.features if f.name == "trips_30m")
    assert field.description == (
        "Trips of the driver in the 30 minutes up to the moment asked (a trip then included)."
    )

    # Served at the moment asked, by the same one declaration: the on-demand view's windows
    materialize.run(conf, start="2026-01-01", end="2026-01-12")
    drivers = sorted(activity["driver_id"].unique().tolist())
    at = pd.Timestamp("2026-01-06T13:17:00Z")
    online = materialize.lookup(conf, drivers, at=at.to_pydatetime()).set_index("driver_id")
    asked = pd.DataFrame({"driver_id": drivers, "event_timestamp": at})
    expected = windows_at_times_oracle(trips, asked, {"trips_30m": ("count", "30min")})
    np.testing.assert_array_equal(online.loc[drivers, "trips_30m"], expected["trips_30m"])
    assert (expected["trips_30m"] > 0).any() and (expected["trips_30m"] == 0).any()
