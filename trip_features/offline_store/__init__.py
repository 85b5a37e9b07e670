"""The project's Spark offline store for Feast: Feast's own, with a correct point-in-time join."""

from trip_features.runtime import typeguard_cache

typeguard_cache.install()  # before this package's first `import feast`
