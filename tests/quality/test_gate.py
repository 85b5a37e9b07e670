"""The quality gate on its own: input counts, failing rules, empty input, table judgement."""

import pytest

from transforms.quality_rules import RULES
from trip_features.quality.checks import Check
from trip_features.quality.gate import (
    QUARANTINE_TABLE,
    FeatureRun,
    QualityGateError,
    gate_on_input,
    judge_table,
    take_input_counts,
)


def _metrics(read=10, accepted=9, **broken):
    return {"read": read, "in_range": read, "accepted": accepted} | dict.fromkeys(RULES, 0) | broken


def test_tables_that_read_different_trips_stop_the_run():
    run = FeatureRun()
    take_input_counts(run, "trips_stats_3h", _metrics(negative_distance=1))
    assert (run.trips_read, run.trips_accepted, run.trips_quarantined) == (10, 9, 1)
    assert run.quarantine_reasons == {"negative_distance": 1}
    take_input_counts(run, "driver_activity", _metrics(negative_distance=1))
    with pytest.raises(QualityGateError, match="trips changed while the job ran"):
        take_input_counts(run, "driver_activity", _metrics(read=11, negative_distance=1))


def test_a_broken_fail_rule_stops_the_run_and_names_the_rule():
    run = FeatureRun()
    take_input_counts(run, "t", _metrics(negative_distance=1))
    gate_on_input(run, {"negative_distance": "quarantine"}, "trips")
    with pytest.raises(QualityGateError, match=r"negative_distance.: 1"):
        gate_on_input(run, {"negative_distance": "fail"}, "trips")


def test_no_accepted_trip_stops_the_run():
    run = FeatureRun()
    take_input_counts(run, "t", _metrics(read=3, accepted=0, null_key=3))
    with pytest.raises(QualityGateError, match="no usable trips in trips of May"):
        gate_on_input(run, {}, "trips of May")


def _profile(rows, low, high):
    column = {"type": "int", "nulls": 0, "null_fraction": 0.0, "min": low, "max": high}
    return {"rows": rows, "columns": {"hour_of_day": column}}


def test_a_table_is_judged_by_its_checks_and_its_row_count():
    run = FeatureRun()
    take_input_counts(run, "t", _metrics(read=5, accepted=4, null_key=1))
    check = (Check("hour_of_day", dtype="int", minimum=0, maximum=23),)
    judge_table("t", _profile(4, 0, 23), check, run)
    assert run.rows_written == {"t": 4} and run.tables["t"]["checks"][0]["passed"]
    with pytest.raises(QualityGateError, match="hour_of_day: maximum 24 above 23"):
        judge_table("t", _profile(4, 0, 24), check, run)
    with pytest.raises(QualityGateError, match="3 rows written for 4 accepted"):
        judge_table("t", _profile(3, 0, 23), check, run)
    judge_table(QUARANTINE_TABLE, {"rows": 1, "columns": {}}, (), run)
    with pytest.raises(QualityGateError, match="2 rows written for 1 quarantined"):
        judge_table(QUARANTINE_TABLE, {"rows": 2, "columns": {}}, (), run)
