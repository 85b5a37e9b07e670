"""Feast objects as a Hamilton DAG: each object is a function of the objects it depends on."""

from trip_features.runtime import typeguard_cache

typeguard_cache.install()  # before this package's first `import feast`
