"""The one place that makes a SparkSession: reuse the active one, else build it from `conf/`."""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from trip_features.runtime import class_data_sharing
from trip_features.runtime.errors import JobError
from trip_features.runtime.project_packages import PROJECT_PACKAGES
from trip_features.runtime.settings import Settings

T = TypeVar("T")

log = logging.getLogger(__name__)

# Settings that are only correct one way: Feast's Spark store and our calendar features assume UTC.
REQUIRED_RUNTIME_CONF = {"spark.sql.session.timeZone": "UTC"}


class JavaMissingError(RuntimeError):
    """Spark needs a Java 17 (or newer) runtime."""


# A Spark started in-process (local master) answers this machine only: its driver binds
# 127.0.0.1, not the external address, and its web UI (all interfaces, port 4040) is off.
IN_PROCESS_ONLY = {
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.ui.enabled": "false",
}


def use_utc_process_time_zone() -> None:
    """Pins the Python process to UTC: pandas and Feast read the process TZ for naive times."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


def check_java() -> str:
    """Returns the Java version line, or raises with what to install."""
    java = class_data_sharing.java_binary()
    if java is None:
        raise JavaMissingError(
            "Spark needs Java 17: install it (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`)"
            " or set JAVA_HOME to a Java 17 installation."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    # The version line, not a notice such as "Picked up JAVA_TOOL_OPTIONS: ..." printed first.
    lines = (out.stderr or out.stdout).splitlines()
    line = next((x for x in lines if " version " in x), lines[0] if lines else "")
    version = line.split('"')[1] if '"' in line else ""
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    if major < 17:
        raise JavaMissingError(
            f"Spark 4 needs Java 17 or newer, found {line or java!r}: install Java 17 and point "
            "JAVA_HOME at it."
        )
    return line


def jvm_options(conf: Settings) -> str:
    """The flags of every JVM a job starts (driver, executors, the Connect server): UTC, then conf's
    `spark.java_options`. The scripts get them, with conf's settings, from
    trip_features.runtime.submit_conf."""
    return f"-Duser.timezone=UTC {conf.spark.java_options or ''}".strip()


def session_settings(conf: Settings) -> dict[str, str]:
    """A session's settings: conf's `spark.conf` (an overlay unsets a base setting with null) and
    the required ones. A session built here gets them, and a JVM spark-submit starts gets them on
    its command line (trip_features.runtime.submit_conf)."""
    given = conf.spark.conf
    settings = {key: value for key, value in given.items() if value is not None}
    return {**settings, **REQUIRED_RUNTIME_CONF}


def driver_jvm_options(
    conf: Settings, java_version: str | None = None, small_input: bool = False
) -> str:
    """The driver JVM's flags: `jvm_options`, this installation's class archive when one was made
    (trip_features.runtime.class_data_sharing; executors of a cluster run elsewhere, where it is
    not), and for a job of small inputs (trip_features.runtime.input_size) conf's
    `spark.small_input_java_options`."""
    archive = class_data_sharing.driver_flag(conf, java_version or check_java())
    small = conf.spark.small_input_java_options if small_input else None
    return " ".join(part for part in (jvm_options(conf), archive, small or "") if part)


def get_spark(conf: Settings, small_input: bool = False) -> SparkSession:
    """The active session (spark-submit, Databricks, a test's), else a Spark Connect session when
    `spark.remote` (conf, --remote) or SPARK_REMOTE names a server, else a classic session built
    from `conf`, whose `spark.master` is used only when spark-submit gave none. `small_input`: the
    job's inputs are small (trip_features.runtime.input_size), for the flags of a driver it
    starts."""
    use_utc_process_time_zone()
    remote = conf.spark.remote or os.environ.get("SPARK_REMOTE")
    spark = SparkSession.getActiveSession()
    if spark is not None:
        log.info("reusing the active Spark session (%s)", describe(spark))
    elif remote:
        spark = _connect(str(remote), conf)
    else:
        spark = _classic(conf, small_input)
    for key, value in REQUIRED_RUNTIME_CONF.items():
        if spark.conf.get(key, None) != value:
            log.warning(
                "setting %s=%s on the session (was %s)", key, value, spark.conf.get(key, None)
            )
            spark.conf.set(key, value)
    return spark


def get_spark_while(
    conf: Settings, work: Callable[[], T], small_input: bool = False
) -> tuple[SparkSession, T]:
    """`get_spark(conf, small_input)` and `work()` (a job's heavy imports, its registry reads) at once: a fresh
    process's JVM start waits on a socket while `work` runs in another thread, so on two cores
    the two overlap instead of adding up (Feast's imports alone take seconds). An error of
    `work` is raised here, once the session is up."""
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["result"] = work()
        except BaseException as err:  # handed to the caller's thread
            done["error"] = err

    thread = threading.Thread(target=run, name="start-up work", daemon=True)
    thread.start()
    try:
        spark = get_spark(conf, small_input)
    finally:
        thread.join()
    if "error" in done:
        raise done["error"]
    return spark, done["result"]


def is_connect(spark: SparkSession) -> bool:
    """Whether `spark` is a Spark Connect session (no sparkContext, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def describe(spark: SparkSession) -> str:
    if is_connect(spark):
        return f"Spark Connect {spark.version}"
    return f"Spark {spark.version}, master {spark.sparkContext.master}"


def _classic(conf: Settings, small_input: bool = False) -> SparkSession:
    java_version = check_java()
    # Python workers must run this interpreter (its packages), not whatever python3 is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark_conf = conf.spark
    builder = SparkSession.builder.appName(spark_conf.app_name)
    master = _submitted_master()  # spark-submit's --master wins over conf's
    if master is None and spark_conf.master:  # null: the platform's (Databricks) own
        master = spark_conf.master
        builder = builder.master(master)
    _master_reachable(master or "")
    settings = session_settings(conf)
    if (master or "").startswith("local"):
        settings = {**IN_PROCESS_ONLY, **settings}  # conf's spark.conf turns them back on
    for key, value in settings.items():
        builder = builder.config(key, value)
    java_options = driver_jvm_options(conf, java_version, small_input)
    if small_input and spark_conf.small_input_java_options:
        log.info("small inputs: the driver adds %s", spark_conf.small_input_java_options)
    executor_options = jvm_options(conf)
    metastore = conf.paths.metastore
    if metastore:
        builder = _with_metastore(builder, Path(metastore))
        java_options += f" -Dderby.system.home={metastore}"  # derby.log goes there, not the cwd
    builder = builder.config("spark.driver.extraJavaOptions", java_options)
    builder = builder.config("spark.executor.extraJavaOptions", executor_options)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.info("started %s", describe(spark))
    return spark


def _with_metastore(builder, folder: Path):
    """Hive support on an embedded Derby metastore in `folder` (its tables outlive the session;
    one process at a time may open it)."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true"
    return (
        builder.enableHiveSupport()
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", url)
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        # Hive makes this folder for each session and never removes it (SPARK-51571): by default
        # /tmp/<session id>_resources, one left behind by every job
        .config("spark.hadoop.hive.downloaded.resources.dir", str(folder / "hive_resources"))
    )


def _submitted_master() -> str | None:
    """The master spark-submit put in SparkConf, if this process runs under spark-submit. (Asking
    SparkConf otherwise would start the JVM before the builder's settings reach it.)"""
    from pyspark import SparkConf, SparkContext

    if "PYSPARK_GATEWAY_PORT" not in os.environ and SparkContext._gateway is None:
        return None
    SparkContext._ensure_initialized()  # joins spark-submit's JVM; SparkConf then reads it
    return SparkConf().get("spark.master", None)


def _master_reachable(master: str) -> None:
    """A standalone master that does not answer fails now, not after a minute of retries."""
    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.partition(":")
        try:
            socket.create_connection((host, int(port or 7077)), timeout=5).close()
            return
        except OSError:
            continue
    raise JobError(
        f"no Spark master answers at {master}: start one (scripts/cluster.sh start prints its URL) "
        "or check --master"
    )


def _connect(remote: str, conf: Settings) -> SparkSession:
    """A session on the Spark Connect server at `remote` (sc://host:port), with conf's SQL
    settings; a clear error when the client is missing or nothing listens there."""
    try:
        import pyspark.sql.connect.session  # noqa: F401  (needs grpcio and friends)
    except ImportError as err:
        raise JobError(
            f"Spark Connect needs its client libraries ({err.name} is missing): "
            "pip install 'trip-features[connect]'"
        ) from err
    _reachable(remote)
    spark = SparkSession.builder.remote(remote).getOrCreate()
    for key, value in conf.spark.conf.items():
        if value is not None and key.startswith("spark.sql.") and spark.conf.isModifiable(key):
            spark.conf.set(key, value)
    ship_project(spark)
    log.info("connected to %s at %s", describe(spark), remote)
    return spark


_shipped_zip: Path | None = None


def ship_project(spark: SparkSession) -> None:
    """Adds the project's code (a zip of its packages, as installed here) to the session's Python
    workers, so a Connect server need not have the project installed: only its dependencies."""
    global _shipped_zip
    if _shipped_zip is None:
        folder = Path(tempfile.mkdtemp(prefix="trip-features-code-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # uploaded: needed no longer
        _shipped_zip = folder / "trip_features_code.zip"
        with zipfile.ZipFile(_shipped_zip, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in PROJECT_PACKAGES:
                package = Path(importlib.import_module(name).__file__).parent
                for path in sorted(package.rglob("*")):
                    if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
                        archive.write(path, Path(name) / path.relative_to(package))
    spark.addArtifacts(str(_shipped_zip), pyfile=True)


def hamilton_adapters(spark: SparkSession) -> tuple:
    """Adapters the Hamilton drivers need for this session: Connect sessions and frames are
    other types than the classic ones Hamilton checks inputs against."""
    if not is_connect(spark):
        return ()
    from hamilton.plugins import h_spark  # the check imports grpc: Connect only

    return (h_spark.SPARK_INPUT_CHECK,)


def _reachable(remote: str) -> None:
    """Fails at once, not after the client's minutes of retries, when nothing listens."""
    parsed = urlparse(remote)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise JobError(f"{remote!r} is not a Spark Connect URL like sc://127.0.0.1:15002")
    try:
        socket.create_connection((parsed.hostname, parsed.port or 15002), timeout=5).close()
    except OSError as err:
        raise JobError(
            f"no Spark Connect server answers at {remote} ({err.strerror or err}): start one with "
            "scripts/connect-server.sh start, or check --remote / SPARK_REMOTE"
        ) from err


def own_session(spark: SparkSession, settings: dict[str, str]) -> SparkSession:
    """A session of the job's own on the caller's SparkContext: the caller's SQL settings plus
    `settings`. The caller's session is never changed; temporary views are not shared (use a
    table or a global temporary view for inputs)."""
    session = spark.newSession()
    if is_connect(spark):
        ship_project(session)  # artifacts belong to a Connect session
    for key, value in spark.conf.getAll.items():
        if session.conf.isModifiable(key):
            session.conf.set(key, value)
    for key, value in settings.items():
        session.conf.set(key, value)
    return session
