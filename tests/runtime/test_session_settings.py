"""The session the jobs build carries conf's JVM flags and input split size, and the code shipped to
Connect sessions leaves nothing behind; the tests' own session has a metastore only when a
selected test needs one."""


def _collectors(jvm) -> set[str]:
    beans = jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    return {beans.get(i).getName() for i in range(beans.size())}


def test_the_driver_jvm_runs_the_collector_conf_names(spark, conf):
    assert conf.spark.java_options == "-XX:+UseParallelGC"
    # The parallel collector's beans; G1, Java 17's default, would be "G1 Young Generation".
    assert _collectors(spark.sparkContext._jvm) == {"PS Scavenge", "PS MarkSweep"}
    executor_options = spark.sparkContext.getConf().get("spark.executor.extraJavaOptions")
    # Spark adds its own module flags before ours.
    assert executor_options.split()[-2:] == ["-Duser.timezone=UTC", "-XX:+UseParallelGC"]


def test_input_splits_are_conf_sized(spark, conf):
    assert conf.spark.conf["spark.sql.files.maxPartitionBytes"] == "64m"
    assert spark.conf.get("spark.sql.files.maxPartitionBytes") == "64m"


def test_start_up_work_runs_beside_the_session_and_its_error_reaches_the_caller(spark, conf):
    import threading

    import pytest

    from trip_features.runtime.session import get_spark_while

    session, worker = get_spark_while(conf, lambda: threading.current_thread().name)
    assert session is spark and worker != threading.current_thread().name

    def unknown():
        raise LookupError("unknown feature service 'nope'")

    with pytest.raises(LookupError, match="nope"):
        get_spark_while(conf, unknown)


def test_an_in_process_spark_listens_on_loopback_only_and_has_no_web_ui(spark):
    """Every socket the driver JVM listens on is bound to 127.0.0.1 (Spark's defaults: the UI on
    all interfaces, the driver on the machine's external address)."""
    import re
    import subprocess

    assert spark.conf.get("spark.ui.enabled") == "false"
    assert spark.sparkContext.uiWebUrl is None
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    listening = subprocess.run(
        ["ss", "-Hltnp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    mine = [line for line in listening if re.search(rf"pid={pid},", line)]
    assert mine, f"the driver JVM (pid {pid}) listens nowhere: ss shows {listening[:5]}"
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in mine}
    assert addresses <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, mine


def test_python_workers_import_none_of_hamiltons_extensions(spark, conf):
    """conf gives a session's Python workers HAMILTON_AUTOLOAD_EXTENSIONS=0 (spark.executorEnv,
    on spark-submit's command line too: cluster workers inherit nothing from the driver), so the
    transforms they import bring no dask or matplotlib."""
    from trip_features.runtime.submit_conf import submit_arguments

    assert spark.sparkContext.environment["HAMILTON_AUTOLOAD_EXTENSIONS"] == "0"
    assert "spark.executorEnv.HAMILTON_AUTOLOAD_EXTENSIONS=0" in submit_arguments(conf)

    def imported(_):
        import os
        import sys

        import transforms.feature_tables  # noqa: F401

        extensions = sorted(m for m in ("dask", "matplotlib", "polars") if m in sys.modules)
        yield os.environ.get("HAMILTON_AUTOLOAD_EXTENSIONS"), extensions

    assert spark.sparkContext.parallelize([0], 1).mapPartitions(imported).collect() == [("0", [])]


def test_the_tests_session_has_a_metastore_only_when_a_selected_test_needs_one(spark, request):
    """tests/conftest.py: Derby's start is paid only by runs that select a `metastore` test."""
    wanted = any(item.get_closest_marker("metastore") for item in request.session.items)
    catalog = spark.conf.get("spark.sql.catalogImplementation")
    assert catalog == ("hive" if wanted else "in-memory")


def test_the_code_shipped_to_connect_sessions_is_zipped_once_and_removed_with_the_process(tmp_path):
    """ship_project (trip_features/runtime/session.py) uploads one zip a process to each session;
    every job through Connect left its 230 KB zip in /tmp before."""
    import json
    import os
    import subprocess
    import sys

    probe = """
import json, zipfile
from trip_features.runtime.session import ship_project
class Session:
    def addArtifacts(self, path, pyfile):
        print(json.dumps([path, pyfile, sorted(zipfile.ZipFile(path).namelist())]))
ship_project(Session())
ship_project(Session())
"""
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    first, second = [json.loads(line) for line in run.stdout.splitlines()]
    assert first == second and first[1] is True  # one zip, added as Python files
    assert "transforms/feature_tables.py" in first[2] and "conf/base.yaml" in first[2]
    assert first[0].startswith(str(tmp_path)) and list(tmp_path.iterdir()) == []
