"""Compiled kernels cached by the content of their source, wherever the source is imported from.

Numba caches compiled code beside a source file, or, for a module inside a zip, under a folder
named after the zip's path. The project reaches Python workers inside an archive whose path
changes with every application or session (spark-submit's --py-files wheel, a Spark Connect
session's artifacts), so each worker would compile the kernels again (~3.6 s each, measured in
docs/benchmark-log.md). Here a module inside an archive is cached under a folder named after the hash
of its source instead: the same code finds the same compiled kernels.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path, PurePosixPath

from numba.core import caching

CACHE_ROOT_VARIABLE = "TRIP_FEATURES_KERNEL_CACHE"  # where to cache (default ~/.cache/...)


def cache_root() -> Path:
    given = os.environ.get(CACHE_ROOT_VARIABLE)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "trip-features" / "kernels"


def archived_source(py_file: str) -> bytes | None:
    """The source of a module inside a zip archive (a .zip or a wheel), else None."""
    path = Path(py_file)
    for i in range(1, len(path.parts)):
        archive = Path(*path.parts[:i])
        if archive.is_file():
            if not zipfile.is_zipfile(archive):
                return None
            member = PurePosixPath(*path.parts[i:]).as_posix()
            try:
                with zipfile.ZipFile(archive) as opened:
                    return opened.read(member)
            except KeyError:
                return None
    return None


class ContentKeyedLocator(caching._CacheLocator):
    """Caches a function of an archived module under the hash of the module's source."""

    def __init__(self, py_func, py_file: str, source: bytes):
        self._lineno = py_func.__code__.co_firstlineno
        self._stamp = hashlib.sha256(source).hexdigest()
        self._cache_path = str(cache_root() / f"{Path(py_file).stem}-{self._stamp[:16]}")

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return self._stamp

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file: str):
        source = archived_source(py_file)
        if source is None:
            return None
        locator = cls(py_func, py_file, source)
        try:
            locator.ensure_cache_path()
        except OSError:  # no writable cache folder: compile in each worker, as without a cache
            return None
        return locator


def install() -> None:
    """Makes Numba try this locator first (idempotent)."""
    if ContentKeyedLocator not in caching.CacheImpl._locator_classes:
        caching.CacheImpl._locator_classes.insert(0, ContentKeyedLocator)


def can_cache(module_file: str) -> bool:
    """Whether the kernels of the module at `module_file` can be cached: a plain source file, or
    an archived one with a writable cache folder. Otherwise each process compiles them."""
    if os.path.isfile(module_file):
        return True
    if archived_source(module_file) is None:
        return False
    try:
        cache_root().mkdir(parents=True, exist_ok=True)
        return os.access(cache_root(), os.W_OK)
    except OSError:
        return False
