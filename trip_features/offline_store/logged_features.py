"""Logged features (Feast's feature logging) written by the project's offline store: parquet
under the service's logging destination, one folder per day (`log_date=YYYY-MM-DD`, the rows'
`__log_date`; a folder named `__log_date=` would be skipped by pyarrow and pandas, which ignore
names that start with "_"), that Spark and pandas read.

Each flush writes new files and never rewrites one: a file is written under a hidden name
(".part-...", which Spark and pyarrow skip) and renamed into place whole, so a reader never sees
half a file and a process killed while writing leaves only a hidden file behind.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

LOG_DATE = "__log_date"


def write_logged_features(config, data, source, logging_config, registry) -> None:
    """Feast's `OfflineStore.write_logged_features`: appends `data` (an Arrow table, or a folder
    of parquet files) under `logging_config.destination.path`."""
    destination = getattr(logging_config.destination, "path", None)
    if not destination:
        raise ValueError(
            "the feature service's logging destination has no path: log to a "
            "FileLoggingDestination (conf's serving_log.path)"
        )
    table = data if isinstance(data, pa.Table) else pq.read_table(Path(data))
    append(table, destination)  # a relative path is the working folder's, as conf's paths


def append(table: pa.Table, folder: str) -> list[str]:
    """Writes `table` into `folder`/log_date=<date>/ as new files; returns their paths."""
    if table.num_rows == 0:
        return []
    written = []
    dates = pc.unique(table[LOG_DATE]).to_pylist()
    for date in dates:
        part = table.filter(pc.equal(table[LOG_DATE], date))
        home = Path(folder) / f"log_date={date.isoformat()}"
        home.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        hidden = home / f".{name}"
        pq.write_table(part, hidden, coerce_timestamps="us", allow_truncated_timestamps=True)
        os.replace(hidden, home / name)
        written.append(str(home / name))
    return written
