"""Each quality rule on its own, on a few rows: the row that breaks it gets that rule's reason,
and only that one; clean rows pass; `keep` turns a rule off."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from transforms.trips_quality import (
    FLAGS,
    RULES,
    shared_trip_ids,
    trips_checked,
    trips_quarantined,
    trips_typed,
)

NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
CLEAN = {
    "trip_id": 1,
    "event_timestamp": "2026-01-05 10:00:00",
    "driver_id": 7,
    "rider_id": 3,
    "trip_dist": 4.5,
    "created": "2026-01-05 10:00:30",
}
# rule -> the rows that break it (besides a clean trip 100, which must stay accepted)
BROKEN = {
    "unparsable_timestamp": [{"event_timestamp": "next tuesday"}],
    "null_timestamp": [{"created": None}],
    "null_key": [{"driver_id": None}],
    "missing_distance": [{"trip_dist": None}],
    "negative_distance": [{"trip_dist": -0.5}],
    "absurd_distance": [{"trip_dist": 501.0}],
    "future_timestamp": [
        {"event_timestamp": "2026-03-01 00:00:00", "created": "2026-03-01 00:00:01"}
    ],
    "created_before_event": [{"created": "2026-01-05 09:59:59"}],
    "duplicate_row": [{}, {}],  # two exact copies: one is kept, the other quarantined
    "duplicate_trip_id": [{}, {"trip_dist": 9.0}],  # one id, two different trips: both out
}
QUARANTINED = {"duplicate_row": 1, "duplicate_trip_id": 2}


SCHEMA = (
    "trip_id long, event_timestamp string, driver_id long, rider_id long, trip_dist double, "
    "created string"
)


def _frame(spark, changes: list[dict]):
    rows = [dict(CLEAN, trip_id=100, driver_id=8)] + [dict(CLEAN, **c) for c in changes]
    return spark.createDataFrame([tuple(r.values()) for r in rows], SCHEMA)


def _checked(spark, changes, rules):
    typed = trips_typed(_frame(spark, changes))
    return trips_checked(typed, shared_trip_ids(typed), rules, 500.0, NOW)


def test_every_rule_has_a_case():
    assert set(BROKEN) == set(RULES)


def test_a_row_breaking_one_rule_is_quarantined_for_that_rule_alone(spark):
    """All cases in one frame (one Spark job): each case's rows carry their own trip ids."""
    rules = dict.fromkeys(RULES, "quarantine")
    changes = [
        {**change, "trip_id": 1000 * (number + 1)}
        for number, rule in enumerate(RULES)
        for change in BROKEN[rule]
    ]
    checked = _checked(spark, changes, rules)
    assert checked.where("trip_id = 100").first()[FLAGS] == 0
    reasons = {}
    for row in trips_quarantined(checked).collect():
        reasons.setdefault(RULES[row["trip_id"] // 1000 - 1], []).append(row["quality_reasons"])
    for rule in RULES:
        assert reasons.get(rule) == [[rule]] * QUARANTINED.get(rule, 1), rule


@pytest.mark.parametrize("rule", ["missing_distance", "negative_distance", "duplicate_row"])
def test_keep_turns_a_rule_off(spark, rule):
    rules = dict.fromkeys(RULES, "quarantine") | {rule: "keep"}
    checked = _checked(spark, BROKEN[rule], rules)
    assert checked.where(F.col(FLAGS) != 0).count() == 0


def test_text_times_stay_as_given_in_the_quarantine(spark):
    rules = dict.fromkeys(RULES, "quarantine")
    row = trips_quarantined(_checked(spark, BROKEN["unparsable_timestamp"], rules)).first()
    assert row["event_timestamp"] is None and row["event_timestamp_as_given"] == "next tuesday"


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"no_such_rule": "quarantine"}, "unknown rules \\['no_such_rule'\\]"),
        ({"negative_distance": "maybe"}, "actions {'negative_distance': 'maybe'}"),
        ({"null_key": "keep"}, "cannot be keep"),
    ],
)
def test_rules_that_cannot_be_applied_are_refused(spark, rules, message):
    with pytest.raises(ValueError, match=message):
        _checked(spark, [], rules)
