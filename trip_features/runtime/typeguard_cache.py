"""Feast's run-time type checks without their seconds of import: a disk cache of typeguard's work.

Feast decorates its classes with typeguard's `@typechecked`, which instruments every method at
import by parsing and compiling its whole module again: 4-5 s of the 6-7 s `import feast` takes
here, in every process that imports it (a training set, `feast serve`, a Connect client). The
instrumented code depends only on the module's source, so it is kept on disk, keyed by that
source, typeguard's version and the interpreter's bytecode version, and reused: the same checks
run, at a tenth of the import time (docs/benchmark-log.md). Installed by the packages that import
Feast (definitions, offline_store) before their first `import feast`; a process that imported
Feast earlier just pays the full import.

The folder is $TRIP_FEATURES_TYPEGUARD_CACHE, else $XDG_CACHE_HOME/trip-features/typeguard (or
~/.cache/...). An unwritable folder leaves typeguard as it is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
from inspect import isfunction
from pathlib import Path
from types import FunctionType
from typing import TypeVar

from trip_features.runtime.config import cache_folder

_installed = False
T = TypeVar("T")


def install() -> None:
    """Routes typeguard's instrumentation of Feast's functions through the disk cache (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from importlib.metadata import version

    from typeguard import _decorators

    folder = cache_folder("typeguard", "TRIP_FEATURES_TYPEGUARD_CACHE")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    salt = f"{version('typeguard')}|{importlib.util.MAGIC_NUMBER.hex()}|{sys.version}"
    _decorators.instrument = _cached(_decorators.instrument, folder, salt)


def installed_first(obj: T) -> T:
    """`obj` as a Spark function captures it for the Python workers: unpickled there, it installs
    the cache before it imports Feast. (cloudpickle restores a function's default arguments
    before its globals, so a Feast object captured by a UDF imported Feast in every worker with
    typeguard's full instrumentation: 4 s a worker.) Only the unpickled copy is `obj` itself."""
    return _InstalledFirst(obj)  # type: ignore[return-value]


class _InstalledFirst:
    __slots__ = ("obj",)

    def __init__(self, obj) -> None:
        self.obj = obj

    def __reduce__(self):
        # Pickle restores a call's arguments in order: the first calls install().
        return _unwrapped, (_Install(), self.obj)


class _Install:
    def __reduce__(self):
        return install, ()


def _unwrapped(_installed, obj):
    return obj


def _cached(instrument, folder: Path, salt: str):
    sources: dict[str, str] = {}

    def cached_instrument(f):
        if not _cacheable(f):
            return instrument(f)
        key = _key(f, salt, sources)
        if key is None:
            return instrument(f)
        path = folder / f"{key}.code"
        try:
            code = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            result = instrument(f)
            if isfunction(result) and result.__code__.co_freevars == f.__code__.co_freevars:
                _write(path, marshal.dumps(result.__code__))
            return result
        return _function(code, f)

    return cached_instrument


def _cacheable(f) -> bool:
    """Feast's module-level functions and methods: instrumenting them adds no free variables, so
    the cached code needs nothing from the frame that decorated them (typeguard looks there)."""
    code = getattr(f, "__code__", None)
    module = getattr(f, "__module__", None) or ""
    return (
        code is not None
        and (module == "feast" or module.startswith("feast."))
        and "<locals>" not in f.__qualname__
        and not hasattr(f, "__wrapped__")
    )


def _key(f, salt: str, sources: dict[str, str]) -> str | None:
    """The cache key of `f`'s instrumented code: its module's file and source, its place there,
    the salt."""
    filename = f.__code__.co_filename
    if filename not in sources:
        try:
            sources[filename] = hashlib.sha256(Path(filename).read_bytes()).hexdigest()
        except OSError:
            return None
    # The file's path too: code objects carry it, for tracebacks (another venv, another entry).
    place = f"{salt}|{filename}|{sources[filename]}|{f.__qualname__}|{f.__code__.co_firstlineno}"
    return hashlib.sha256(place.encode()).hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Whole files only: written aside, then renamed (processes may fill the cache at once)."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        pass


def _function(code, f) -> FunctionType:
    """`f` with the instrumented `code`, as typeguard builds it."""
    new = FunctionType(code, f.__globals__, f.__name__, closure=f.__closure__)
    new.__module__ = f.__module__
    new.__qualname__ = f.__qualname__
    new.__doc__ = f.__doc__
    new.__defaults__ = f.__defaults__
    new.__kwdefaults__ = f.__kwdefaults__
    new.__annotations__ = f.__annotations__
    if sys.version_info >= (3, 12):
        new.__type_params__ = f.__type_params__
    return new
