"""Publishes a run's tables as catalog tables, for storage without links or atomic renames
(S3, ADLS, GCS, Unity Catalog volumes): the metastore swaps readers over, files are never moved.

    <out>/.versions/<run>-<host>-<pid>/<table>/date=YYYY-MM-DD/part-00000.parquet   written once
    <out>/.versions/<run>-<host>-<pid>/_manifest.json   which folder holds each date of each table
    <schema>.<table>__<run>      a version: a partitioned table whose partitions point at folders
    <schema>.<table>             a view over the current version: what readers (and Feast) open
    <out>/_publications/<run>.json   the view swaps of a run in progress

A run writes its tables into a new version folder. Publishing registers, per table, a version
table whose partitions are the run's dates plus the current version's other dates (their folders
are referenced where they are, not copied), then points the view at it: one metastore statement,
so a reader sees the old version or the new one whole. The swaps of a run's tables follow each
other within milliseconds; a run that dies between them left its plan in `_publications/`, and
the next publication rolls it forward first, so every table of a run becomes visible or none does
for longer than that instant. Runs on one machine serialise on a lock around the short
registration; the bundle's job runs one at a time across machines (`max_concurrent_runs: 1`).

Superseded versions are dropped `retention` after they stopped being current (a query planned
before the swap may still read them), and a version folder is deleted once no remaining version
references it. Nothing is deleted before the swap that replaces it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from trip_features.runtime.errors import JobError
from trip_features.runtime.faults import checkpoint
from trip_features.storage.file_publication import StagedTable, alive
from trip_features.storage.table_layout import PARTITION_COLUMN

log = logging.getLogger(__name__)

VERSION_PROPERTY = "trip_features.version"
SUPERSEDED_PROPERTY = "trip_features.superseded_at"
MANIFEST = "_manifest.json"
PARTITIONS_PER_STATEMENT = 200
VERSION_NAME = re.compile(r"\d{8}t\d+z_\w+_\d+")  # a version folder's name, as a table suffix
_RUNNING: set[str] = set()  # version folders this process is writing (a notebook runs many jobs)


class CatalogPublicationError(JobError):
    """The catalog cannot hold the published tables."""


class CatalogPublisher:
    """Tables of `out` published as `<schema>.<table>` views over versioned tables."""

    def __init__(self, spark: SparkSession, out: str, schema: str, retention: dt.timedelta):
        if not re.fullmatch(r"\w+(\.\w+)?", schema):
            raise CatalogPublicationError(
                f"publication.schema {schema!r} must be `schema` or `catalog.schema` (letters, "
                "digits, underscores)"
            )
        self.spark, self.out, self.schema, self.retention = spark, Path(out), schema, retention

    # The interface every publisher has (see trip_features.storage.publishers).

    def staging(self, run_id: str) -> Path:
        """The run writes straight into its version folder: publishing never moves a file."""
        folder = self._folder(run_id)
        _RUNNING.add(folder.name)
        return folder

    def _folder(self, run_id: str) -> Path:
        return self.out / ".versions" / f"{run_id}-{_host()}-{os.getpid()}"

    def remove_dead_staging(self) -> list[Path]:
        """Version folders of this machine's dead runs that no version table references."""
        self._check_catalog()
        with self._lock():
            referenced = self._referenced_folders()
            removed = []
            for folder in self._version_folders():
                # cutoff None: only this machine's folders, whose processes it can see
                if _abandoned(folder, cutoff=None) and folder.name not in referenced:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
            return removed

    def publish(self, staged: dict[str, StagedTable], run_id: str, replaces=None) -> str:
        """Registers every staged table's new version and swaps the views; returns the run."""
        self._check_catalog()
        with self._lock():
            self._roll_forward()
            folder = self._folder(run_id)
            plan = {}
            manifest = {}
            for name in sorted(staged):
                current = self.current_version(name)
                dates = self._assemble(name, current, staged[name], replaces)
                manifest[name] = dates
                plan[name] = {"version": folder.name, "previous": current}
            _write_json(folder / MANIFEST, manifest)
            for name in sorted(staged):
                self._register(name, folder.name, staged[name].schema, manifest[name])
            checkpoint("publish:assembled")
            intent = self.out / "_publications" / f"{run_id}.json"
            _write_json(intent, plan)
            self._swap(plan)
            intent.unlink()
            self._drop_superseded()
        return run_id

    def finish(self, staging: Path, published: bool) -> None:
        """A failed run's folder goes, unless the run failed while swapping views: its plan then
        stays for the next publication to complete, and that needs the folder."""
        _RUNNING.discard(staging.name)
        run_id = staging.name.split("-", 1)[0]
        swapping = (self.out / "_publications" / f"{run_id}.json").exists()
        if not published and not swapping:
            shutil.rmtree(staging, ignore_errors=True)

    def reader_location(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def date_folders(self, table: str) -> list[Path]:
        """The folders of the table's dates readers see now (none when it is not published)."""
        current = self.current_version(table)
        if current is None:
            return []
        dates = _read_json(self.out / ".versions" / current / MANIFEST).get(table, {})
        return [Path(location) for _, location in sorted(dates.items())]

    # Versions

    def current_version(self, table: str) -> str | None:
        """The version folder the view of `table` reads now."""
        view = self.reader_location(table)
        return self._property(view, VERSION_PROPERTY) if self._exists(view) else None

    def _assemble(self, name: str, current: str | None, staged: StagedTable, replaces) -> dict:
        """Date folder name -> the folder holding it: staged dates, then the current version's
        dates the run neither staged nor replaced."""
        dates = {d.name: str(d) for d in sorted(staged.path.iterdir()) if d.is_dir()}
        if current is not None:
            previous = _read_json(self.out / ".versions" / current / MANIFEST).get(name, {})
            for date, location in previous.items():
                if date not in dates and not (replaces is not None and replaces(date)):
                    dates[date] = location
        return dict(sorted(dates.items()))

    def _register(self, name: str, version: str, schema: StructType, dates: dict) -> None:
        table = self._version_table(name, version)
        self.spark.sql(f"DROP TABLE IF EXISTS {table}")  # a rolled-back attempt of the same run
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in _ordered(schema))
        location = self.out / ".versions" / version / name
        location.mkdir(parents=True, exist_ok=True)
        self.spark.sql(
            f"CREATE TABLE {table} ({columns}) USING parquet PARTITIONED BY ({PARTITION_COLUMN}) "
            f"LOCATION '{_quoted(location)}'"
        )
        specs = [
            f"PARTITION ({PARTITION_COLUMN}='{_quoted(folder.split('=', 1)[1])}') "
            f"LOCATION '{_quoted(path)}'"
            for folder, path in dates.items()
        ]
        for first in range(0, len(specs), PARTITIONS_PER_STATEMENT):
            chunk = " ".join(specs[first : first + PARTITIONS_PER_STATEMENT])
            self.spark.sql(f"ALTER TABLE {table} ADD {chunk}")

    def _swap(self, plan: dict) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        for name, step in sorted(plan.items()):
            version = step["version"]
            self.spark.sql(
                f"CREATE OR REPLACE VIEW {self.reader_location(name)} "
                f"TBLPROPERTIES ('{VERSION_PROPERTY}'='{version}') "
                f"AS SELECT * FROM {self._version_table(name, version)}"
            )
            checkpoint(f"publish:swapped:{name}")
            previous = step["previous"]
            if previous and previous != version:
                table = self._version_table(name, previous)
                if self._exists(table):
                    self.spark.sql(
                        f"ALTER TABLE {table} SET TBLPROPERTIES ('{SUPERSEDED_PROPERTY}'='{now}')"
                    )

    def _roll_forward(self) -> None:
        """Completes the view swaps of a run that died while making them (its plan is still
        there; a live run holds the lock while its plan exists)."""
        folder = self.out / "_publications"
        for intent in sorted(folder.glob("*.json")) if folder.exists() else []:
            plan = _read_json(intent)
            log.warning("completing the publication %s of a run that stopped", intent.stem)
            self._swap(plan)
            intent.unlink()

    def _drop_superseded(self) -> None:
        """Drops versions superseded longer than `retention` ago and versions that never became
        current (their run died before its swap); deletes folders no remaining version reads."""
        cutoff = dt.datetime.now(dt.UTC) - self.retention
        current = {}
        for table, (name, folder) in self._version_tables().items():
            if name not in current:
                current[name] = self.current_version(name)
            if folder == current[name]:
                continue
            superseded = self._property(table, SUPERSEDED_PROPERTY)
            if superseded is None or dt.datetime.fromisoformat(superseded) < cutoff:
                self.spark.sql(f"DROP TABLE {table}")
        referenced = self._referenced_folders()
        for folder in self._version_folders():
            if folder.name not in referenced and _abandoned(folder, cutoff):
                shutil.rmtree(folder, ignore_errors=True)

    # Catalog helpers

    def _check_catalog(self) -> None:
        try:
            implementation = self.spark.conf.get("spark.sql.catalogImplementation", "in-memory")
        except Exception:  # serverless compute hides static settings; its catalog persists
            implementation = "unknown"
        if implementation == "in-memory":
            raise CatalogPublicationError(
                "publication.kind is catalog, but this Spark session's catalog is in memory and "
                "forgets its tables when the session ends: use a session with a metastore "
                "(set paths.metastore, or --env metastore; Databricks and Hive sessions have one)"
            )
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.schema}")

    def _version_table(self, name: str, folder: str) -> str:
        return f"{self.schema}.{name}__{_identifier(folder)}"

    def _version_tables(self) -> dict[str, tuple[str, str | None]]:
        """Registered version tables -> (table, version folder; None when the folder is gone,
        e.g. a run that stopped after registering and removed its folder)."""
        folders = {_identifier(f.name): f.name for f in self._version_folders()}
        tables = {}
        for row in self.spark.sql(f"SHOW TABLES IN {self.schema} LIKE '*__*'").collect():
            name, _, version = row["tableName"].rpartition("__")
            if not row["isTemporary"] and VERSION_NAME.fullmatch(version):
                tables[f"{self.schema}.{row['tableName']}"] = (name, folders.get(version))
        return tables

    def _referenced_folders(self) -> set[str]:
        """Version folders some registered version table reads from."""
        referenced = set()
        for name, folder in self._version_tables().values():
            if folder is None:
                continue
            dates = _read_json(self.out / ".versions" / folder / MANIFEST).get(name, {})
            referenced.update(Path(location).parent.parent.name for location in dates.values())
            referenced.add(folder)  # its table's location lies inside
        return referenced

    def _version_folders(self) -> list[Path]:
        root = self.out / ".versions"
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []

    def _exists(self, table: str) -> bool:
        return bool(self.spark.catalog.tableExists(table))

    def _property(self, table: str, key: str) -> str | None:
        rows = self.spark.sql(f"SHOW TBLPROPERTIES {table} ('{key}')").collect()
        value = rows[0]["value"] if rows else None
        return None if value is None or "does not have property" in value else value

    @contextmanager
    def _lock(self):
        """Serialises publications of this machine into the same folder and schema."""
        key = hashlib.sha256(f"{self.out.resolve()}|{self.schema}".encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"trip-features-publish-{key}.lock"
        with open(path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _ordered(schema: StructType) -> list:
    """Data columns, then the partition column (as a partitioned table lists them)."""
    fields = [f for f in schema.fields if f.name != PARTITION_COLUMN]
    return fields + [f for f in schema.fields if f.name == PARTITION_COLUMN]


def _host() -> str:
    return re.sub(r"[\W_]+", "", socket.gethostname())[:40] or "host"


def _identifier(folder: str) -> str:
    """A version folder's name as a table name suffix (lower case: metastores fold case)."""
    return re.sub(r"_+", "_", re.sub(r"\W", "_", folder)).lower()


def _owner(folder: Path) -> tuple[str, str, int]:
    """(run, host, pid) from a version folder named <run>-<host>-<pid>."""
    run, _, rest = folder.name.partition("-")
    host, _, pid = rest.rpartition("-")
    return run, host, int(pid) if pid.isdigit() else -1


def _abandoned(folder: Path, cutoff: dt.datetime | None) -> bool:
    """A version folder no process will publish: its run ended on this machine, or (another
    machine's, whose processes this one cannot see) it started before `cutoff`."""
    run, host, pid = _owner(folder)
    if host == _host():
        return folder.name not in _RUNNING if pid == os.getpid() else not alive(pid)
    if cutoff is None:
        return False
    try:
        started = dt.datetime.strptime(run, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return False
    return started < cutoff


def _quoted(value) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1, sort_keys=True))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}
