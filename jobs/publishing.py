"""Publishes date-partitioned tables atomically: readers see the old version or the new, whole.

    <out>/<table>                      a symlink to the current version (what readers open)
    <out>/.versions/<table>/<run>/     immutable versions: date=YYYY-MM-DD/part-00000.parquet
    <out>/.staging/<table>/<run>-<pid> where a run writes before it publishes
    <out>/.<table>.lock                held while a version is assembled and swapped in

A run writes its dates to staging, then, under the lock, assembles a new version from the current
one (other dates hard-linked, not copied) plus its staged dates, and swaps the symlink in one
`rename`. A run killed at any moment leaves the current version as it was; the next run removes
what the dead one left. Two runs on different dates serialise only on the short assembly, so
neither loses the other's dates. Local and mounted file systems only (links and atomic renames);
object stores need a table format (Delta, Iceberg) instead.
"""

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import DataFrame

from jobs.feature_writer import PARTITION_COLUMN, with_date_partition

PART_FILE = "part-00000.parquet"
KEEP_VERSIONS = 2  # the current one and the one before it, for readers still on it


def _dirs(out: Path, table: str) -> tuple[Path, Path, Path]:
    return out / table, out / ".versions" / table, out / ".staging" / table


@contextmanager
def _table_lock(out: Path, table: str):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f".{table}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging_path(out: str | os.PathLike, name: str, run_id: str) -> Path:
    """Where this process stages `name` for this run."""
    _, _, staging_root = _dirs(Path(out), name)
    return staging_root / f"{run_id}-{os.getpid()}"


def stage(
    table: DataFrame, out: str | os.PathLike, name: str, run_id: str, undated: str | None = None
) -> Path:
    """Writes `table` by date into a fresh staging folder, one file per date with a fixed name."""
    staged = staging_path(out, name, run_id)
    with_date_partition(table, undated).write.mode("overwrite").partitionBy(
        PARTITION_COLUMN
    ).parquet(str(staged))
    for entry in staged.iterdir():
        if entry.is_file():  # _SUCCESS and checksums: not part of the table
            entry.unlink()
            continue
        parts = sorted(p for p in entry.iterdir() if p.suffix == ".parquet")
        for extra in [p for p in entry.iterdir() if p.suffix != ".parquet"]:
            extra.unlink()
        if len(parts) != 1:
            raise RuntimeError(f"{entry} holds {len(parts)} files; one per date was expected")
        parts[0].rename(entry / PART_FILE)
    return staged


def current_version(out: str | os.PathLike, name: str) -> Path | None:
    link = Path(out) / name
    return link.resolve() if link.exists() else None


def commit(
    out: str | os.PathLike,
    name: str,
    staged: Path,
    run_id: str,
    replaces: Callable[[str], bool] | None = None,
) -> Path:
    """Publishes the staged dates on top of the current version; returns the new version.

    Current dates are kept unless staged again or `replaces(folder name)` says the run covered
    them (a date of its range that now has no rows must not keep its old ones)."""
    out = Path(out)
    link, versions, _ = _dirs(out, name)
    with _table_lock(out, name):
        versions.mkdir(parents=True, exist_ok=True)
        if link.is_dir() and not link.is_symlink():  # a table written before versions existed
            legacy = versions / f"legacy-{time.time_ns()}"
            link.rename(legacy)
            os.symlink(os.path.relpath(legacy, out), link)
        current = current_version(out, name)
        version = versions / run_id
        if version.exists():
            shutil.rmtree(version)
        version.mkdir()
        staged_dates = {d.name for d in staged.iterdir()}
        if current is not None:
            for date_dir in current.iterdir():
                if (
                    date_dir.is_dir()
                    and date_dir.name not in staged_dates
                    and not (replaces and replaces(date_dir.name))
                ):
                    (version / date_dir.name).mkdir()
                    for f in date_dir.iterdir():
                        os.link(f, version / date_dir.name / f.name)
        for date in sorted(staged_dates):
            (staged / date).rename(version / date)
        staged.rmdir()
        swap = out / f".{name}.{run_id}.link"
        if swap.is_symlink():
            swap.unlink()
        os.symlink(os.path.relpath(version, out), swap)
        os.replace(swap, link)  # the one atomic step readers can observe
        _remove_old_versions(versions, keep=version, previous=current)
    return version


def _remove_old_versions(versions: Path, keep: Path, previous: Path | None) -> None:
    for version in versions.iterdir():
        if version not in (keep, previous):
            shutil.rmtree(version, ignore_errors=True)


def remove_dead_staging(out: str | os.PathLike, name: str) -> list[Path]:
    """Removes staging folders of runs whose process is gone (killed, crashed)."""
    _, _, staging_root = _dirs(Path(out), name)
    removed = []
    if staging_root.exists():
        for staged in staging_root.iterdir():
            pid = staged.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(staged, ignore_errors=True)
                removed.append(staged)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
