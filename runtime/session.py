"""The one place that makes a SparkSession: reuse the active one, else build it from `conf/`."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Settings that are only correct one way: Feast's Spark store and our calendar features assume UTC.
REQUIRED_RUNTIME_CONF = {"spark.sql.session.timeZone": "UTC"}


class JavaMissingError(RuntimeError):
    """Spark needs a Java 17 (or newer) runtime."""


def use_utc_process_time_zone() -> None:
    """Pins the Python process to UTC: pandas and Feast read the process TZ for naive times."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


def check_java() -> str:
    """Returns the Java version line, or raises with what to install."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise JavaMissingError(
            "Spark needs Java 17: install it (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`)"
            " or set JAVA_HOME to a Java 17 installation."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    line = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else ""
    version = line.split('"')[1] if '"' in line else ""
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    if major < 17:
        raise JavaMissingError(
            f"Spark 4 needs Java 17 or newer, found {line or java!r}: install Java 17 and point "
            "JAVA_HOME at it."
        )
    return line


def get_spark(conf: dict[str, Any]) -> SparkSession:
    """The active session (spark-submit, Databricks, a test's), or a new one built from `conf`."""
    use_utc_process_time_zone()
    spark = SparkSession.getActiveSession()
    if spark is None:
        check_java()
        # Python workers must run this interpreter (its packages), not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        spark_conf = conf.get("spark", {})
        builder = SparkSession.builder.appName(spark_conf.get("app_name", "trip-features"))
        builder = builder.master(spark_conf.get("master", "local[2]"))
        for key, value in {**spark_conf.get("conf", {}), **REQUIRED_RUNTIME_CONF}.items():
            builder = builder.config(key, str(value))
        builder = builder.config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        builder = builder.config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        log.info("started Spark %s (%s)", spark.version, spark_conf.get("master"))
    else:
        log.info("reusing the active Spark session (%s)", spark.sparkContext.master)
    for key, value in REQUIRED_RUNTIME_CONF.items():
        if spark.conf.get(key, None) != value:
            log.warning(
                "setting %s=%s on the active session (was %s)",
                key,
                value,
                spark.conf.get(key, None),
            )
            spark.conf.set(key, value)
    return spark


def own_session(spark: SparkSession, settings: dict[str, str]) -> SparkSession:
    """A session of the job's own on the caller's SparkContext: the caller's SQL settings plus
    `settings`. The caller's session is never changed; temporary views are not shared (use a
    table or a global temporary view for inputs)."""
    session = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if session.conf.isModifiable(key):
            session.conf.set(key, value)
    for key, value in settings.items():
        session.conf.set(key, value)
    return session
