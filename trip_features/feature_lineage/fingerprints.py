"""Fingerprints of code: what a function computes, not how its text is laid out.

A function's fingerprint hashes its syntax tree (docstrings, comments and formatting left out,
decorators kept) together with everything of the project it reaches: the helpers and classes it
calls, followed to the end, and the values of the constants it reads. So editing a kernel three
calls below a Hamilton node changes that node's fingerprint; reformatting it or fixing a
docstring does not.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
import types
from collections.abc import Callable, Iterable

# The packages whose code makes the features and their definitions; code elsewhere (pandas,
# pyspark, numba, feast) is pinned by the lock file, not fingerprinted.
FINGERPRINTED_PACKAGES = (
    "transforms",
    "definitions",
    "trip_features.storage",
    "trip_features.quality",
    "trip_features.offline_store",
    "trip_features.runtime",
)
_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))


def digest(*parts: str) -> str:
    """A short, stable hash of text parts (12 hex digits: plenty for a few hundred nodes)."""
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode())
        sha.update(b"\0")
    return sha.hexdigest()[:12]


def fingerprint(functions: Iterable[Callable], packages: tuple = FINGERPRINTED_PACKAGES) -> str:
    """One hash of the given functions and of the code (of `packages`) and constants they reach."""
    seen: dict[str, str] = {}
    for fn in functions:
        _visit(fn, seen, packages)
    return digest(*(f"{name}={text}" for name, text in sorted(seen.items())))


def _visit(obj, seen: dict[str, str], packages: tuple) -> None:
    name = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    if name in seen:
        return
    seen[name] = _normalised_source(obj)
    for value_name, value in _referenced_globals(obj):
        if _is_project(value, packages) and isinstance(value, type | types.FunctionType):
            _visit(value, seen, packages)
        elif _is_constant(value):
            seen.setdefault(f"{name}:{value_name}", repr(value))


def _normalised_source(obj) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return repr(obj)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def _referenced_globals(obj) -> list[tuple[str, object]]:
    """(name, value) of the module-level names a function or class uses, nested code included."""
    if isinstance(obj, type):
        members = [m for m in vars(obj).values() if isinstance(m, types.FunctionType)]
        return [pair for member in members for pair in _referenced_globals(member)]
    code = getattr(obj, "__code__", None)
    namespace = getattr(obj, "__globals__", {})
    if code is None:
        return []
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return [(n, namespace[n]) for n in sorted(names) if n in namespace]


def _is_project(value, packages: tuple) -> bool:
    module = getattr(value, "__module__", None) or ""
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def _is_constant(value) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return True
    if isinstance(value, tuple | list | frozenset | set):
        return all(_is_constant(v) for v in value)
    if isinstance(value, dict):
        return all(_is_constant(k) for k in value) and all(
            _is_constant(v) or _is_project_value(v) for v in value.values()
        )
    return False


def _is_project_value(value) -> bool:
    """Values such as Spark types in a contract dict: their repr says what they are."""
    return type(value).__module__.startswith("pyspark.sql.types")
