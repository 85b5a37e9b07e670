"""Feast's run-time type checks are the same code whether typeguard instruments them at import
or the cache hands back what it instrumented before."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # starts processes or servers: the full suite runs it

# Digests of every function of Feast's classes, in a fresh interpreter: typeguard's instrumented
# code where Feast asked for it. `install` decides whether the cache is used.
_DIGESTS = """
import hashlib, inspect, json, sys, types
if sys.argv[1] == "cached":
    from trip_features.runtime import typeguard_cache
    typeguard_cache.install()
import feast
from feast import Entity

def digest(code):
    parts = [code.co_code, repr(code.co_names), repr(code.co_varnames), repr(code.co_freevars),
             repr(code.co_firstlineno), code.co_filename]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            parts.append(digest(const))
        else:  # a frozenset's order follows the process's hash seed
            parts.append(repr(sorted(map(repr, const)) if isinstance(const, frozenset) else const))
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()

found = {}
for name, module in list(sys.modules.items()):
    if not name.startswith("feast") or module is None:
        continue
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ != name:
            continue
        for attr, value in vars(cls).items():
            func = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
            if isinstance(func, types.FunctionType):
                found[f"{name}.{cls.__qualname__}.{attr}"] = (
                    digest(func.__code__), "TypeCheckMemo" in func.__code__.co_names
                )
try:
    Entity(name=1, join_keys=["driver_id"])
    refused = ""
except Exception as err:
    refused = type(err).__name__
print(json.dumps({"functions": found, "refused": refused}))
"""


def _digests(mode: str, cache) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _DIGESTS, mode],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "TRIP_FEATURES_TYPEGUARD_CACHE": str(cache)},
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cached_instrumentation_is_typeguards_own(tmp_path):
    cache = tmp_path / "typeguard"
    plain = _digests("plain", cache)
    assert not cache.exists()  # typeguard alone writes nothing
    filling = _digests("cached", cache)
    written = len(list(cache.glob("*.code")))
    reused = _digests("cached", cache)

    instrumented = {name for name, (_, checked) in plain["functions"].items() if checked}
    assert len(instrumented) > 100  # Feast's entities, views, sources, services...
    assert written >= len(instrumented)
    assert filling["functions"] == plain["functions"]
    assert reused["functions"] == plain["functions"]
    # The checks still run: a wrongly typed argument is refused.
    assert plain["refused"] == reused["refused"] == "TypeCheckError"


_UNPICKLE = """
import pickle, sys
apply = pickle.loads(sys.stdin.buffer.read())
print(type(apply(None)).__name__)
"""


def _shipped(view, wrap: bool) -> bytes:
    """A function as Spark ships it to a Python worker, capturing a Feast object."""
    from pyspark import cloudpickle

    from trip_features.offline_store.spark_store import quiet_feast_warnings
    from trip_features.runtime.typeguard_cache import installed_first

    shipped = installed_first(view) if wrap else view

    def apply(batches, view=shipped):
        quiet_feast_warnings()  # a global of the project's store, as in with_on_demand_features
        return view

    return cloudpickle.dumps(apply)


@pytest.mark.parametrize("wrap", [True, False])
def test_a_worker_unpickling_a_feast_object_installs_the_cache_first(tmp_path, wrap):
    from feast import Entity

    cache = tmp_path / "typeguard"
    done = subprocess.run(
        [sys.executable, "-c", _UNPICKLE],
        input=_shipped(Entity(name="driver", join_keys=["driver_id"]), wrap),
        capture_output=True,
        env={**__import__("os").environ, "TRIP_FEATURES_TYPEGUARD_CACHE": str(cache)},
        check=True,
    )
    assert done.stdout.decode().split() == ["Entity"]  # the object itself, unwrapped
    written = len(list(cache.glob("*.code")))
    if wrap:
        assert written > 100  # Feast's instrumentation went through the cache
    else:  # the default argument came first: Feast imported before the cache was installed
        assert written == 0
