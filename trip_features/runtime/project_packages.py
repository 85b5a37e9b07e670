"""The project's top-level packages: what its wheel installs (setup.cfg's packages, tested equal),
what a Spark Connect session ships to its workers, and what a copy of the project holds."""

PROJECT_PACKAGES = (
    "conf",
    "definitions",
    "feature_repo",
    "jobs",
    "transforms",
    "trip_features",
)
