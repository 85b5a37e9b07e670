"""The project's Spark offline store for Feast: Feast's own, with a correct point-in-time join."""
