"""A catalogue of bad inputs, each with what the feature job must answer: a clear error before
any work, or the rows it quarantines (by reason) while accepted + quarantined = input."""

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs import compute_features
from trip_features.runtime.config import apply_override
from trip_features.runtime.errors import JobError
from trip_features.storage.sample_trips import generate_trips

ROWS = 300


def clean() -> pd.DataFrame:
    return generate_trips(rows=ROWS, days=2, seed=3, drivers=8, null_dist_fraction=0.0)


def _write(frame: pd.DataFrame | pa.Table, folder: Path, **kwargs) -> str:
    folder.mkdir(parents=True)
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    pq.write_table(table, folder / "trips.parquet", **({"coerce_timestamps": "us"} | kwargs))
    return str(folder)


def _rows(frame, index, **values):
    frame = frame.copy()
    for column, value in values.items():
        frame[column] = frame[column].astype(object) if value is None else frame[column]
        frame.loc[index, column] = value
    return frame


def _as_text(frame, column, bad):
    frame = frame.copy()
    frame[column] = frame[column].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frame.loc[list(range(len(bad))), column] = bad
    return frame


NOW = pd.Timestamp.now(tz="UTC").floor("s")

# name -> (make the input from clean trips, extra conf overrides, expected)
# expected: ("error", message fragment) or ("quarantine", {reason: rows})
CATALOGUE = {
    "missing column": (
        lambda f: f.drop(columns="created"),
        [],
        ("error", "column 'created' is missing"),
    ),
    "distance as text": (
        lambda f: f.assign(trip_dist=f["trip_dist"].astype(str)),
        [],
        ("error", "column 'trip_dist' has type string, expected double"),
    ),
    "driver id as text": (
        lambda f: f.assign(driver_id=f["driver_id"].astype(str)),
        [],
        ("error", "column 'driver_id' has type string, expected bigint"),
    ),
    "epoch numbers for times": (
        lambda f: f.assign(event_timestamp=f["event_timestamp"].astype("int64")),
        [],
        ("error", "column 'event_timestamp' has type bigint, expected timestamp"),
    ),
    "no rows at all": (lambda f: f.iloc[:0], [], ("error", "no usable trips")),
    "null event times": (
        lambda f: _rows(f, [1, 2, 3], event_timestamp=None),
        [],
        ("quarantine", {"null_timestamp": 3}),
    ),
    "null created times": (
        lambda f: _rows(f, [4], created=None),
        [],
        ("quarantine", {"null_timestamp": 1}),
    ),
    "unparsable text times": (
        lambda f: _as_text(f, "event_timestamp", ["yesterday", "2026-13-45"]),
        [],
        ("quarantine", {"unparsable_timestamp": 2}),
    ),
    "null trip ids": (
        lambda f: _rows(f, [5, 6], trip_id=None),
        [],
        ("quarantine", {"null_key": 2}),
    ),
    "null driver ids": (
        lambda f: _rows(f, [7], driver_id=None),
        [],
        ("quarantine", {"null_key": 1}),
    ),
    "negative distance": (
        lambda f: _rows(f, [8, 9], trip_dist=-1.5),
        [],
        ("quarantine", {"negative_distance": 2}),
    ),
    "absurd distance": (
        lambda f: _rows(f, [10], trip_dist=25_000.0),
        [],
        ("quarantine", {"absurd_distance": 1}),
    ),
    "NaN distance kept by default": (
        lambda f: _rows(f, [11, 12], trip_dist=np.nan),
        [],
        ("quarantine", {}),
    ),
    "NaN distance quarantined on request": (
        lambda f: _rows(f, [11, 12], trip_dist=np.nan),
        ["quality.rules.missing_distance=quarantine"],
        ("quarantine", {"missing_distance": 2}),
    ),
    "future times": (
        lambda f: _rows(
            f,
            [13],
            event_timestamp=NOW + pd.Timedelta(days=3),
            created=NOW + pd.Timedelta(days=3, minutes=1),
        ),
        [],
        ("quarantine", {"future_timestamp": 1}),
    ),
    "created before the event": (
        lambda f: _rows(f, [14], created=f.loc[14, "event_timestamp"] - pd.Timedelta(minutes=5)),
        [],
        ("quarantine", {"created_before_event": 1}),
    ),
    "exact duplicate rows": (
        lambda f: pd.concat([f, f.iloc[20:23]], ignore_index=True),
        [],
        ("quarantine", {"duplicate_row": 3}),
    ),
    "one trip id, two trips": (
        lambda f: _rows(f, [30], trip_id=f.loc[31, "trip_id"]),
        [],
        ("quarantine", {"duplicate_trip_id": 2}),
    ),
    "a rule set to fail": (
        lambda f: _rows(f, [8], trip_dist=-1.0),
        ["quality.rules.negative_distance=fail"],
        ("error", "quality rules set to fail were broken: {'negative_distance': 1}"),
    ),
    "an unknown rule": (
        lambda f: f,
        ["quality.rules.no_such_rule=keep"],
        ("error", "unknown rules ['no_such_rule']"),
    ),
    "an unknown action": (
        lambda f: f,
        ["quality.rules.null_key=ignore"],
        ("error", "quality.rules.null_key is 'ignore': Input should be 'quarantine', 'fail'"),
    ),
    "null event times kept": (
        lambda f: _rows(f, [1], event_timestamp=None),
        ["quality.rules.null_timestamp=keep"],
        ("error", "['null_timestamp'] cannot be keep"),
    ),
    "several problems in one row": (
        lambda f: _rows(
            f, [15], trip_dist=-3.0, created=f.loc[15, "event_timestamp"] - pd.Timedelta(seconds=1)
        ),
        [],
        ("quarantine", {"negative_distance": 1, "created_before_event": 1}),
    ),
}


# Every rule is tested on its own on a few rows (tests/transforms/test_trips_quality.py). Through
# the whole job (a Spark run each), the fast tier keeps the contract errors, answered before any
# Spark job, and one case that stands for the rest; the slow tier runs the whole catalogue.
ALWAYS = {"several problems in one row"}


def _tier(case: str):
    answered_early = "column" in CATALOGUE[case][2][1]
    slow = not answered_early and case not in ALWAYS
    return pytest.param(case, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("case", [_tier(case) for case in CATALOGUE])
def test_bad_input(spark, conf, tmp_path, case):
    make, overrides, (kind, expected) = CATALOGUE[case]
    trips = _write(make(clean()), tmp_path / "trips")
    out = tmp_path / "out"
    if kind == "error":
        with pytest.raises((JobError, ValueError)) as err:
            conf = apply_override(conf, *overrides)  # a setting of the wrong form: when it loads
            compute_features.run(spark, conf, trips=trips, out=str(out))
        assert expected in str(err.value)
        assert not (out / "trips_stats_3h").exists(), "nothing may be published"
        return
    conf = apply_override(conf, *overrides)
    report = compute_features.run(spark, conf, trips=trips, out=str(out))
    assert report.quarantine_reasons == expected
    assert (
        report.trips_accepted + report.trips_quarantined
        == report.trips_in_range
        == report.trips_read
    )
    quarantined = (
        pd.read_parquet(out / "quarantine") if report.trips_quarantined else pd.DataFrame()
    )
    assert len(quarantined) == report.trips_quarantined
    assert report.rows_written["trips_stats_3h"] == report.trips_accepted
    if len(quarantined):
        reasons = quarantined["quality_reasons"].explode().value_counts().to_dict()
        assert reasons == expected


def test_nanosecond_parquet_is_refused_with_the_fix(spark, conf, tmp_path):
    table = pa.Table.from_pandas(clean(), preserve_index=False).cast(
        pa.schema(
            [
                (f.name, pa.timestamp("ns", tz="UTC") if pa.types.is_timestamp(f.type) else f.type)
                for f in pa.Table.from_pandas(clean(), preserve_index=False).schema
            ]
        )
    )
    trips = _write(table, tmp_path / "trips", coerce_timestamps=None, version="2.6")
    with pytest.raises(
        (JobError, ValueError),
        match="nanosecond timestamps.*coerce_timestamps='us'",
    ):
        compute_features.run(spark, conf, trips=trips, out=str(tmp_path / "out"))


def test_corrupt_parquet_file_is_named(spark, conf, tmp_path):
    trips = _write(clean(), tmp_path / "trips")
    (Path(trips) / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises((JobError, ValueError), match="corrupt or non-parquet"):
        compute_features.run(spark, conf, trips=trips, out=str(tmp_path / "out"))


@pytest.mark.slow
def test_naive_and_offset_times_are_read_as_utc(spark, conf, tmp_path):
    frame = clean()
    expected = compute_features.run(
        spark, conf, trips=_write(frame, tmp_path / "a"), out=str(tmp_path / "oa")
    )
    naive = frame.assign(
        event_timestamp=frame["event_timestamp"].dt.tz_localize(None),
        created=frame["created"].dt.tz_localize(None),
    )
    offsets = frame.assign(
        event_timestamp=frame["event_timestamp"]
        .dt.tz_convert("Asia/Kolkata")
        .dt.strftime("%Y-%m-%dT%H:%M:%S%z"),
        created=frame["created"]
        .dt.tz_convert("America/Chicago")
        .dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z"),
    )
    for name, variant in (("naive", naive), ("offsets", offsets)):
        report = compute_features.run(
            spark, conf, trips=_write(variant, tmp_path / name), out=str(tmp_path / f"o{name}")
        )
        assert report.trips_quarantined == 0, name
        got = pd.read_parquet(tmp_path / f"o{name}" / "trips_stats_3h").sort_values(
            "trip_id", ignore_index=True
        )
        want = pd.read_parquet(tmp_path / "oa" / "trips_stats_3h").sort_values(
            "trip_id", ignore_index=True
        )
        pd.testing.assert_frame_equal(got, want, obj=name)
    assert expected.trips_accepted == ROWS


@pytest.mark.slow
def test_failing_output_check_publishes_nothing(spark, conf, tmp_path):
    trips = _write(clean(), tmp_path / "trips")
    out = tmp_path / "out"
    compute_features.run(spark, conf, trips=trips, out=str(out))
    before = os.readlink(out / ".current")
    strict = apply_override(
        conf, "features.tables.trips_stats_3h.features.hour_of_day.checks.maximum=3"
    )
    with pytest.raises(JobError, match="trips_stats_3h failed its checks.*hour_of_day: maximum"):
        compute_features.run(spark, strict, trips=trips, out=str(out))
    assert os.readlink(out / ".current") == before


@pytest.mark.slow
def test_report_is_written_and_adds_up(spark, conf, tmp_path):
    import json

    trips = _write(_rows(clean(), [1], trip_dist=-2.0), tmp_path / "trips")
    report = compute_features.run(spark, conf, trips=trips, out=str(tmp_path / "out"))
    saved = json.loads((tmp_path / "out" / "_reports" / "latest.json").read_text())
    assert saved["run_id"] == report.run_id
    assert saved["trips_accepted"] + saved["trips_quarantined"] == saved["trips_in_range"] == ROWS
    stats = saved["tables"]["trips_stats_3h"]
    assert stats["rows"] == ROWS - 1
    assert stats["columns"]["is_weekend"]["min"] >= 0 and stats["columns"]["is_weekend"]["max"] <= 1
    assert all(c["passed"] for c in stats["checks"])
    started = dt.datetime.strptime(report.run_id, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - started < dt.timedelta(minutes=10)
