"""Publishes a run's tables together, atomically: readers see every table old or every table new.

    <out>/<table>                        a symlink to .current/<table> (what readers open)
    <out>/.current                       a symlink to the current version (swapped in one rename)
    <out>/.versions/<run>/<table>/date=YYYY-MM-DD/part-00000.parquet   immutable versions
    <out>/.staging/<run>-<pid>/<table>/  where a run writes before it publishes
    <out>/.lock                          held while a version is assembled and swapped in

A run stages all of its tables, then, under the lock, assembles a new version from the current
one (what it did not recompute is hard-linked, not copied) plus its staged tables, and swaps
`.current` in one `rename`: every table of the run becomes visible at the same instant, or none
does. A run killed at any moment leaves the current version as it was; the next run removes what
the dead one left. Two runs on different dates serialise only on the short assembly, so neither
loses the other's dates. Local and mounted file systems only (hard links, symlinks and atomic
renames); object stores need a catalog or table format instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql.types import StructType

from trip_features.runtime.errors import JobError
from trip_features.runtime.faults import checkpoint

CURRENT = ".current"


@dataclass(frozen=True)
class StagedTable:
    """A table a run wrote, and its schema (a catalog registers it; a table may have no rows)."""

    path: Path
    schema: StructType


class FilePublisher:
    """Publication by symlink swap, for local disks and NFS (see the module's docstring)."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)

    def staging(self, run_id: str) -> Path:
        return run_staging(self.out, run_id)

    def remove_dead_staging(self) -> list[Path]:
        return remove_dead_staging(self.out)

    def publish(self, staged: dict[str, StagedTable], run_id: str, replaces=None) -> Path:
        return publish(self.out, {n: t.path for n, t in staged.items()}, run_id, replaces)

    def finish(self, staging: Path, published: bool) -> None:
        """Staging is emptied by publication (its folders moved into the version), or failed."""
        shutil.rmtree(staging, ignore_errors=True)

    def reader_location(self, table: str) -> str:
        return str(self.out / table)

    def date_folders(self, table: str) -> list[Path]:
        """The folders of the table's dates readers see now (none when it is not published)."""
        current = current_table(self.out, table)
        return sorted(d for d in current.iterdir() if d.is_dir()) if current else []


@contextmanager
def _lock(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_staging(out: str | os.PathLike, run_id: str) -> Path:
    """Where this process stages the tables of this run (one folder per table inside)."""
    return Path(out) / ".staging" / f"{run_id}-{os.getpid()}"


def current_table(out: str | os.PathLike, name: str) -> Path | None:
    """The folder readers of `name` see now, if the table exists."""
    link = Path(out) / name
    return link.resolve() if link.exists() else None


def publish(
    out: str | os.PathLike,
    staged: dict[str, Path],
    run_id: str,
    replaces: Callable[[str], bool] | None = None,
) -> Path:
    """Publishes every staged table in one atomic step; returns the new version.

    A staged table keeps the current dates it did not stage unless `replaces(folder name)` says
    the run covered them (a date of its range that now has no rows must not keep its old ones).
    Tables the run did not stage stay as they are."""
    out = Path(out)
    with _lock(out):
        _refuse_foreign(out, staged)
        version = out / ".versions" / run_id
        if version.exists():
            shutil.rmtree(version)
        version.mkdir(parents=True)
        tables = set(staged) | set(_published_tables(out))
        for name in sorted(tables):
            _assemble(version / name, current_table(out, name), staged.get(name), replaces)
        checkpoint("publish:assembled")
        previous = (out / CURRENT).resolve() if (out / CURRENT).is_symlink() else None
        _swap_link(out / CURRENT, version)  # the one step readers can observe
        for name in sorted(tables):
            link = out / name
            if not (link.is_symlink() and os.readlink(link) == _table_link(name)):
                _swap_link(link, out / CURRENT / name, relative_to=_table_link(name))
        _remove_old_versions(out / ".versions", keep={version, previous})
    return version


def _table_link(name: str) -> str:
    return os.path.join(CURRENT, name)


def _published_tables(out: Path) -> list[str]:
    """Tables readers can open: the links into .current."""
    return [p.name for p in out.iterdir() if _is_published(p)]


def _is_published(path: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == _table_link(path.name)


def _refuse_foreign(out: Path, staged: dict[str, Path]) -> None:
    """A table's name in `out` taken by something this publication did not make (a folder
    written by another tool) is never replaced: the run stops, saying so."""
    taken = [
        name
        for name in sorted(staged)
        if (out / name).exists() or (out / name).is_symlink()
        if not _is_published(out / name)
    ]
    if taken:
        raise JobError(
            f"{', '.join(str(out / n) for n in taken)} exist(s) but were not published here: "
            f"move them out of {out}, or publish to another folder (--out, paths.features)"
        )


def _assemble(
    target: Path, current: Path | None, staged: Path | None, replaces: Callable[[str], bool] | None
) -> None:
    """Builds one table of the new version: staged dates moved in, kept dates hard-linked."""
    target.mkdir()
    staged_dates = {d.name for d in staged.iterdir()} if staged else set()
    if current is not None:
        for date_dir in current.iterdir():
            if not date_dir.is_dir() or date_dir.name in staged_dates:
                continue
            if staged is not None and replaces is not None and replaces(date_dir.name):
                continue
            (target / date_dir.name).mkdir()
            for part in date_dir.iterdir():
                os.link(part, target / date_dir.name / part.name)
    for date in sorted(staged_dates):
        (staged / date).rename(target / date)


def _swap_link(link: Path, target: Path, relative_to: str | None = None) -> None:
    """Points `link` at `target` in one rename."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    if temporary.is_symlink():
        temporary.unlink()
    os.symlink(relative_to or os.path.relpath(target, link.parent), temporary)
    os.replace(temporary, link)


def _remove_old_versions(versions: Path, keep: set[Path | None]) -> None:
    """Keeps the new version and the one before it (readers may still be on it)."""
    for version in versions.iterdir():
        if version.resolve() not in keep:
            shutil.rmtree(version, ignore_errors=True)


def remove_dead_staging(out: str | os.PathLike) -> list[Path]:
    """Removes staging folders of runs whose process is gone (killed, crashed)."""
    root = Path(out) / ".staging"
    removed = []
    if root.exists():
        for staged in root.iterdir():
            pid = staged.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not alive(int(pid)):
                shutil.rmtree(staged, ignore_errors=True)
                removed.append(staged)
    return removed


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
