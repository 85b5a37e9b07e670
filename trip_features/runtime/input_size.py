"""Whether a job's inputs are small, known before its JVM starts (from the files alone).

A job of small inputs spends most of its time warming the JVM up (loading, interpreting and
compiling Spark's code), not on its data: such a job starts its driver with conf
`spark.small_input_java_options` too. Measured with C1-only JIT compilation (docs/benchmark-log.md):
a fresh training set of 5,000 entity rows 12.1 s instead of 18.8 s, the feature job on 200k trips
21.9 s instead of 26.8 s; the 1e7-trip feature job 1.7x slower: a long job needs the optimising
compiler, hence the size limit."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from trip_features.runtime.settings import Settings


def local_bytes(location: str) -> int | None:
    """The bytes of the local file or folder (all files under it, links followed) at `location`,
    or None: not a local path (a table name, a SQL query, an object store URI) or not there."""
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        return None
    path = unquote(parsed.path) if parsed.scheme else location
    if os.path.isfile(path):
        return os.path.getsize(path)
    if not os.path.isdir(path):
        return None
    total = 0
    for folder, _, files in os.walk(path, followlinks=True):
        total += sum(os.path.getsize(os.path.join(folder, name)) for name in files)
    return total


def small_inputs(conf: Settings, locations: list[str]) -> bool:
    """Whether every one of `locations` is local files, together under conf
    `spark.small_input_bytes`."""
    return local_and_under(locations, conf.spark.small_input_bytes)


def local_and_under(locations: list[str], limit: int) -> bool:
    """Whether `locations` (paths or file URIs) are all local files, together under `limit`
    bytes; False for none."""
    total = 0
    for location in locations:
        size = local_bytes(location)
        if size is None:
            return False
        total += size
        if total >= limit:
            return False
    return bool(locations)
