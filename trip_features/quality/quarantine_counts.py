"""Quarantined trips per date and rule, read back from the staged quarantine table's files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.quality_rules import REASONS


def reasons_by_date(folder: Path) -> dict[str, dict[str, int]]:
    """date -> rule -> trips quarantined for it (a trip broken by two rules counts for both),
    from `<folder>/date=YYYY-MM-DD/*.parquet` (`date=unknown`: trips without an event time)."""
    by_date: dict[str, dict[str, int]] = {}
    for date_folder in sorted(p for p in Path(folder).glob("date=*") if p.is_dir()):
        counted: Counter = Counter()
        for part in sorted(date_folder.glob("*.parquet")):
            reasons = pq.read_table(part, columns=[REASONS]).column(REASONS)
            counted.update(pc.list_flatten(reasons).to_pylist())
        if counted:
            by_date[date_folder.name.removeprefix("date=")] = dict(sorted(counted.items()))
    return by_date
