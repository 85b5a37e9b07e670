"""What a feature run computes: its input, output, date range and tables, checked before Spark
starts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.feature_catalogue import Catalogue
from transforms.feature_tables import TABLES
from transforms.quality_rules import checked_rules
from trip_features.runtime.errors import JobError
from trip_features.storage.table_layout import PARTITION_COLUMN


class FeatureJobError(JobError):
    """The feature job cannot run as asked."""


@dataclass(frozen=True)
class FeatureRequest:
    """What a run computes: its input, output, date range and tables, checked before Spark."""

    trips: str
    out: str
    first: dt.date | None
    last: dt.date | None
    tables: tuple[str, ...]
    run_id: str
    started: dt.datetime

    @classmethod
    def of(cls, conf, trips=None, out=None, start=None, end=None, tables=None) -> FeatureRequest:
        unknown = sorted(set(tables or []) - set(TABLES))
        if unknown:
            raise FeatureJobError(f"unknown table(s) {unknown}: choose from {sorted(TABLES)}")
        first, last = _parse_date(start, "--start"), _parse_date(end, "--end")
        if first and last and first > last:
            raise FeatureJobError(f"--start {first} is after --end {last}: the date range is empty")
        # Windows, names and rules: a clear error now, before Spark starts, not mid-run.
        Catalogue.from_conf(conf.features)
        checked_rules(conf.quality.rules)
        started = dt.datetime.now(dt.UTC)
        return cls(
            trips=trips or conf.paths.trips,
            out=out or conf.paths.features,
            first=first,
            last=last,
            tables=tuple(tables or TABLES),
            run_id=started.strftime("%Y%m%dT%H%M%S%fZ"),
            started=started,
        )

    @property
    def range_from(self) -> dt.datetime | None:
        return dt.datetime.combine(self.first, dt.time(), dt.UTC) if self.first else None

    @property
    def range_until(self) -> dt.datetime | None:
        day_after = self.last + dt.timedelta(days=1) if self.last else None
        return dt.datetime.combine(day_after, dt.time(), dt.UTC) if day_after else None

    def in_range(self) -> Column:
        condition = F.lit(True)
        if self.range_from is not None:
            condition = condition & (F.col("event_timestamp") >= F.lit(self.range_from))
        if self.range_until is not None:
            condition = condition & (F.col("event_timestamp") < F.lit(self.range_until))
        return condition

    def replaces(self, folder: str) -> bool:
        """Whether a published date folder is replaced: every date of the range, emptied ones
        too (a whole run replaces the whole table, undated rows included)."""
        value = folder.removeprefix(f"{PARTITION_COLUMN}=")
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            return self.first is None and self.last is None
        return (self.first is None or date >= self.first) and (
            self.last is None or date <= self.last
        )

    def describe(self) -> str:
        return f"{self.trips} between {self.first or 'the beginning'} and {self.last or 'the end'}"


def _parse_date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise FeatureJobError(f"{flag} {value!r} is not a date like 2026-01-31") from err
