"""The leakage audit: no shipped feature depends on later trips or on trips that left its window,
on either engine; every planted leak is caught, with its feature and cut."""

import pandas as pd
import pytest

from tests.quality import leaky_transforms
from tests.shipped_catalogue import WINDOWS
from trip_features.quality.leakage_audit import (
    AT_TRAINING_ROWS,
    FUTURE,
    ONLINE,
    PAST,
    adversarial_trips,
    audit,
    catalogue_features,
    cut_times,
    moment_asked_features,
)

PLANTED = {  # feature -> (declared window, what changing catches it)
    "centred_mean_dist": (None, FUTURE),
    "next_dist": (None, FUTURE),
    "whole_table_mean_dist": (None, FUTURE),
    "reaching_trips_1h": ("1h", FUTURE),
    "stale_trips_1h": ("1h", PAST),
}


@pytest.fixture(scope="module")
def trips():
    return adversarial_trips()


@pytest.mark.parametrize(
    "engine",
    ["pandas", pytest.param("spark", marks=pytest.mark.slow)],  # 7 Spark jobs
)
def test_no_shipped_feature_leaks(engine, spark, conf, trips):
    compute, windows = catalogue_features(engine, conf.features, spark)
    assert {"trips_1h", "trips_7d", "percentile_dist_rolling_3h", "day_of_week"} <= set(windows)
    assert audit(compute, windows, trips, cut_times(trips)) == []


@pytest.mark.parametrize("where", [AT_TRAINING_ROWS, ONLINE])
def test_no_window_at_the_moment_asked_leaks(where, spark, conf, trips):
    compute, windows = moment_asked_features(conf.features, where, spark)
    assert set(windows) == set(WINDOWS)
    assert audit(compute, windows, trips, cut_times(trips)) == []


def test_every_planted_leak_is_caught_with_its_feature_and_cut(conf, trips):
    outputs = {name: window for name, (window, _) in PLANTED.items()}
    compute, windows = catalogue_features(
        "pandas", conf.features, modules=[leaky_transforms], outputs=outputs
    )
    cuts = cut_times(trips)
    leaks = audit(compute, windows, trips, cuts)
    assert {leak.feature for leak in leaks} == set(PLANTED)  # and no shipped feature
    for name, (window, changed) in PLANTED.items():
        found = [leak for leak in leaks if leak.feature == name]
        assert {leak.changed for leak in found} == {changed}, name
        for leak in found:
            if changed == FUTURE:
                assert leak.cut in cuts and leak.trip_time <= leak.cut
            else:  # the trip is after its cut, the changed trips a window before it
                assert leak.trip_time > leak.cut
                assert leak.trip_time <= leak.cut + pd.Timedelta(window)  # it counts 2h
            assert name in str(leak) and leak.cut.isoformat() in str(leak)


@pytest.mark.slow
def test_a_leak_on_spark_is_caught(spark, conf, trips):
    compute, windows = catalogue_features(
        "spark", conf.features, spark, [leaky_transforms], {"next_dist": None}
    )
    leaks = audit(compute, windows, trips, cut_times(trips, count=1))
    assert [(leak.feature, leak.changed) for leak in leaks] == [("next_dist", FUTURE)]
