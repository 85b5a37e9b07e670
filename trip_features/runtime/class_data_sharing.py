"""A class-data-sharing archive of the classes a job's JVM loads, so fresh jobs start sooner.

A fresh driver JVM loads and verifies some sixteen thousand Spark classes from jars before its
first query runs. Java's class-data sharing (CDS) maps them ready-made from one archive instead:
fresh jobs start 3-5 s sooner here (docs/benchmark-log.md, benchmarks/fresh_start.py). The archive is made once
per Java and Spark installation by `python -m jobs.class_archive` (scripts/setup.sh runs it),
which runs the main pipeline on a small sample in a JVM that writes the classes it loaded.

An archive belongs to one Java build and one set of Spark jars: its file name is a digest of
both (the jars' sizes and modification times, as the JVM checks them), so a new Java or a
reinstalled pyspark finds none of its own and runs as before (the job logs how to make one).
Archives live in $TRIP_FEATURES_CLASS_ARCHIVES, else $XDG_CACHE_HOME/trip-features/jvm (or
~/.cache/...); conf `spark.class_archive: false` turns their use off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from trip_features.runtime.config import cache_folder
from trip_features.runtime.settings import Settings

log = logging.getLogger(__name__)


def java_binary() -> str | None:
    """The java a job's JVM runs: JAVA_HOME's, else the first on PATH (as spark-class picks)."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    return os.path.realpath(java) if java and os.path.exists(java) else None


def spark_jars() -> Path:
    """The jars folder spark-submit puts on the driver's class path."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home()) / "jars"


def archive_path(java_version: str) -> Path | None:
    """The archive for this Java (`java_version`: its `java -version` line) and these Spark jars,
    whether it exists or not; None when there is no java or jars folder to name it by."""
    java, jars = java_binary(), spark_jars()
    if java is None or not jars.is_dir():
        return None
    place = hashlib.sha256(f"{java}|{java_version}|{jars.resolve()}".encode())
    # The JVM refuses an archive when a jar's size or modification time differs from the one it
    # was made from (a reinstalled pyspark, a new venv in the same place): both name the archive.
    build = hashlib.sha256()
    for jar in sorted(jars.glob("*.jar")):
        stat = jar.stat()
        build.update(f"|{jar.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    name = f"spark-{place.hexdigest()[:12]}-{build.hexdigest()[:12]}.jsa"
    return cache_folder("jvm", "TRIP_FEATURES_CLASS_ARCHIVES") / name


def superseded(path: Path) -> list[Path]:
    """The other archives of `path`'s Java and jars folder: made from jars since replaced, which
    the JVM would refuse (some 200 MB each)."""
    place = path.name.rsplit("-", 1)[0]
    return [old for old in path.parent.glob(f"{place}-*.jsa") if old != path]


def driver_flag(conf: Settings, java_version: str) -> str:
    """The driver JVM's flag that maps this installation's archive, or "" (none made yet, or
    turned off), saying once how to make one."""
    if not conf.spark.class_archive:
        return ""
    path = archive_path(java_version)
    if path is None:
        return ""
    if not path.is_file():
        log.info(
            "no class archive for this Java and Spark yet: `python -m jobs.class_archive` makes "
            "one, and fresh jobs start seconds sooner"
        )
        return ""
    return f"-XX:SharedArchiveFile={path}"
