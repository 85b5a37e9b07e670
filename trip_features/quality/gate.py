"""The feature job's quality gate: what the input held, and whether the tables may be published.

Input counts (rows read, in the output range, accepted, and per rule broken) are observed while
each table is written; every table must see the same counts. A table is published only when its
`fail` checks pass and it holds one row per accepted trip (the quarantine: per quarantined trip).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.quality_rules import FLAGS, RULES, rule_bit
from trip_features.quality.checks import Check, evaluate
from trip_features.runtime.errors import JobError

log = logging.getLogger("trip_features.quality.gate")
QUARANTINE_TABLE = "quarantine"


class QualityGateError(JobError):
    """The input or a table fails the quality gate: nothing is published."""


@dataclass
class FeatureRun:
    """What a run read, accepted, quarantined and wrote, its checks, timings and outcome."""

    run_id: str = ""
    status: str = "running"  # then "published" or "failed"
    error: str | None = None
    trips_read: int = 0
    trips_in_range: int = 0
    trips_accepted: int = 0
    trips_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_by_date: dict[str, dict[str, int]] = field(default_factory=dict)  # date -> rule -> n
    rows_written: dict[str, int] = field(default_factory=dict)
    tables: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    code_versions: dict[str, str] = field(
        default_factory=dict
    )  # table -> trip_features.feature_lineage.code_versions
    _inputs_seen_by: str | None = field(default=None, repr=False)


def input_metrics(in_range: Column) -> list[Column]:
    """Rows read, in range (or without a usable time), accepted, and per rule broken."""
    in_range = in_range | F.col("event_timestamp").isNull()
    flags = F.col(FLAGS)
    broken = {rule: flags.bitwiseAND(F.lit(rule_bit(rule))) != 0 for rule in RULES}
    return [
        F.count(F.lit(1)).alias("read"),
        F.sum(in_range.cast("long")).alias("in_range"),
        F.sum((in_range & (flags == 0)).cast("long")).alias("accepted"),
        *[F.sum((in_range & broken[rule]).cast("long")).alias(rule) for rule in RULES],
    ]


def take_input_counts(report: FeatureRun, table: str, metrics: dict) -> None:
    """Records the input counts observed while `table` was computed; the tables after the first
    must see the same (otherwise the trips changed while the job ran)."""
    read, in_range, accepted = metrics["read"], metrics["in_range"] or 0, metrics["accepted"] or 0
    reasons = {rule: metrics[rule] for rule in sorted(RULES) if metrics[rule]}
    if report._inputs_seen_by is not None:
        seen = (report.trips_read, report.trips_in_range, report.trips_accepted)
        if (read, in_range, accepted, reasons) != (*seen, report.quarantine_reasons):
            raise QualityGateError(
                f"{table} read {read} trips ({in_range} in range, {accepted} accepted) where "
                f"{report._inputs_seen_by} read {seen[0]} ({seen[1]}, {seen[2]}): the trips "
                "changed while the job ran; nothing was published, run it again"
            )
        return
    report._inputs_seen_by = table
    report.trips_read, report.trips_in_range, report.trips_accepted = read, in_range, accepted
    report.trips_quarantined = in_range - accepted
    report.quarantine_reasons = reasons
    log.info(
        "read %d trips: %d in the output range, of which %d accepted and %d quarantined %s",
        read,
        in_range,
        accepted,
        report.trips_quarantined,
        reasons,
    )


def gate_on_input(report: FeatureRun, rules: dict[str, str], where: str) -> None:
    """Stops the run, before anything is published, when a `fail` rule was broken or no trip
    was accepted."""
    failing = {r: n for r, n in report.quarantine_reasons.items() if rules.get(r) == "fail"}
    if failing:
        raise QualityGateError(
            f"quality rules set to fail were broken: {failing} rows; nothing was published. Fix "
            "the input, or set quality.rules.<rule> to quarantine"
        )
    if report.trips_accepted == 0:
        raise QualityGateError(
            f"no usable trips in {where} ({report.trips_in_range} read, "
            f"{report.trips_quarantined} quarantined): check --trips and the date range"
        )


def judge_table(name: str, profile: dict, checks: tuple[Check, ...], report: FeatureRun) -> None:
    """Records a staged table's profile and checks; a failing `fail` check, or rows that do not
    match the trips counted, stop the run before anything is published."""
    results = evaluate(checks, profile)
    report.tables[name] = {**profile, "checks": [r.as_dict() for r in results]}
    report.rows_written[name] = profile["rows"]
    for result in (r for r in results if not r.passed):
        level = logging.ERROR if result.check.importance == "fail" else logging.WARNING
        problems = "; ".join(result.problems)
        log.log(
            level,
            "%s check of %s.%s: %s",
            result.check.importance,
            name,
            result.check.column,
            problems,
        )
    failed = [r for r in results if not r.passed and r.check.importance == "fail"]
    if failed:
        raise QualityGateError(
            f"{name} failed its checks, so nothing was published: "
            + "; ".join(f"{r.check.column}: {', '.join(r.problems)}" for r in failed)
        )
    quarantine = name == QUARANTINE_TABLE
    expected = report.trips_quarantined if quarantine else report.trips_accepted
    if profile["rows"] != expected:
        raise QualityGateError(
            f"{name}: {profile['rows']} rows written for {expected} "
            f"{'quarantined' if quarantine else 'accepted'} trips in range: every trip must give "
            "exactly one row; nothing was published"
        )
