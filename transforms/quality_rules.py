"""The trips quality rules: their names, actions and bits, and the settings that choose them.

Plain functions, not Hamilton nodes: the jobs check the rules before Spark starts, and the
quality gate counts rows per rule, with the same definitions transforms.trips_quality applies.
"""

from pyspark.sql import Column
from pyspark.sql import functions as F

ACTIONS = ("quarantine", "fail", "keep")
FLAGS = "quality_flags"  # bit i set: the row breaks RULES[i]
REASONS = "quality_reasons"  # the names of those rules, in the quarantine table

RULES = (
    "unparsable_timestamp",
    "null_timestamp",
    "null_key",
    "missing_distance",
    "negative_distance",
    "absurd_distance",
    "future_timestamp",
    "created_before_event",
    "duplicate_row",
    "duplicate_trip_id",
)


# Rows breaking these have no event time or no key: no feature can be computed for them.
REQUIRED = ("unparsable_timestamp", "null_timestamp", "null_key")

# A trip of unknown length is still a trip: it counts in trips_* and gets a null percentile.
DEFAULT_RULES = {rule: "quarantine" for rule in RULES} | {"missing_distance": "keep"}


def checked_rules(quality_rules: dict | None) -> dict[str, str]:
    """Every rule's action (defaults filled in), or a ValueError naming what to write instead."""
    rules = dict(DEFAULT_RULES, **(quality_rules or {}))
    unknown = sorted(set(rules) - set(RULES))
    bad_actions = {r: a for r, a in rules.items() if a not in ACTIONS}
    if unknown or bad_actions:
        raise ValueError(
            f"quality.rules: unknown rules {unknown} (known: {sorted(RULES)}) or actions "
            f"{bad_actions} (each must be one of {ACTIONS})"
        )
    kept_required = sorted(r for r in REQUIRED if rules[r] == "keep")
    if kept_required:
        raise ValueError(
            f"quality.rules: {kept_required} cannot be keep: every feature needs a trip's event "
            "time, trip id and driver id. Set them to quarantine or fail"
        )
    return rules


def duplicate_rules_active(quality_rules: dict | None) -> bool:
    """Whether a duplicate rule is on: only then must trip ids be grouped across the table."""
    rules = dict(DEFAULT_RULES, **(quality_rules or {}))
    return any(rules.get(r) != "keep" for r in ("duplicate_row", "duplicate_trip_id"))


def rule_bit(rule: str) -> int:
    return 1 << RULES.index(rule)


def reasons_of(flags: Column) -> Column:
    """The names of the rules whose bits are set."""
    names = [F.when((flags.bitwiseAND(F.lit(rule_bit(r)))) != 0, F.lit(r)) for r in RULES]
    return F.filter(F.array(*names), lambda name: name.isNotNull())
