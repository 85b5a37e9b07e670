"""The JVM class archive: named by the Java and Spark it belongs to, used by a fresh driver JVM
only when it exists and conf allows, and really mapped by that JVM."""

import os
import subprocess
import sys

import pytest

from trip_features.runtime import class_data_sharing
from trip_features.runtime.config import apply_override
from trip_features.runtime.session import check_java, driver_jvm_options, jvm_options

JAVA = 'openjdk version "17.0.15" 2025-04-15'


def _jars(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"jar bytes")
    return folder


def test_an_archive_belongs_to_one_java_and_one_set_of_spark_jars(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIP_FEATURES_CLASS_ARCHIVES", str(tmp_path / "archives"))
    jars = _jars(tmp_path / "jars", "spark-core.jar", "spark-sql.jar")
    monkeypatch.setattr(class_data_sharing, "spark_jars", lambda: jars)
    first = class_data_sharing.archive_path(JAVA)
    assert first.parent == tmp_path / "archives"
    assert class_data_sharing.archive_path(JAVA) == first
    assert class_data_sharing.archive_path(JAVA.replace("17.0.15", "17.0.16")) != first
    (jars / "spark-sql.jar").write_bytes(b"another build of the jar")
    assert class_data_sharing.archive_path(JAVA) != first
    _jars(jars, "spark-connect.jar")
    assert class_data_sharing.archive_path(JAVA) not in {first, None}


def test_reinstalled_jars_of_the_same_size_name_a_new_archive_and_retire_the_old(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TRIP_FEATURES_CLASS_ARCHIVES", str(tmp_path / "archives"))
    jars = _jars(tmp_path / "jars", "spark-core.jar")
    monkeypatch.setattr(class_data_sharing, "spark_jars", lambda: jars)
    first = class_data_sharing.archive_path(JAVA)
    first.parent.mkdir()
    first.write_bytes(b"an archive")
    other_java = class_data_sharing.archive_path(JAVA.replace("17.0.15", "17.0.16"))
    other_java.write_bytes(b"another Java's archive")
    # Same bytes, new modification time: the JVM refuses an archive made from the old file.
    stat = (jars / "spark-core.jar").stat()
    os.utime(jars / "spark-core.jar", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = class_data_sharing.archive_path(JAVA)
    assert second != first
    assert sorted(class_data_sharing.superseded(second)) == [first]


def test_the_driver_maps_the_archive_only_when_made_and_allowed(tmp_path, monkeypatch, conf):
    monkeypatch.setenv("TRIP_FEATURES_CLASS_ARCHIVES", str(tmp_path / "archives"))
    jars = _jars(tmp_path / "jars", "a.jar")
    monkeypatch.setattr(class_data_sharing, "spark_jars", lambda: jars)
    assert driver_jvm_options(conf, JAVA) == jvm_options(conf)  # none made yet
    path = class_data_sharing.archive_path(JAVA)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"an archive")
    assert driver_jvm_options(conf, JAVA) == f"{jvm_options(conf)} -XX:SharedArchiveFile={path}"
    off = apply_override(conf, "spark.class_archive=false")
    assert driver_jvm_options(off, JAVA) == jvm_options(conf)


def test_executors_never_get_the_drivers_archive(spark):
    executor_options = spark.sparkContext.getConf().get("spark.executor.extraJavaOptions")
    assert "SharedArchiveFile" not in executor_options


# A fresh job's driver JVM, logging where each class came from.
_FRESH_DRIVER = """
import sys

import pytest
from trip_features.runtime.config import load_config
from trip_features.runtime.session import get_spark
conf = load_config("local", [f"spark.java_options=-XX:+UseParallelGC -Xlog:class+load:file={sys.argv[1]}"])
spark = get_spark(conf)
assert spark.range(10).selectExpr("sum(id)").first()[0] == 45
spark.stop()
"""


@pytest.mark.slow
def test_a_fresh_driver_maps_spark_from_the_archive_the_builder_made(tmp_path):
    from jobs.class_archive import build

    path = build()  # scripts/setup.sh made it already: then this only finds it
    assert path == class_data_sharing.archive_path(check_java()) and path.is_file()
    loads = tmp_path / "class-load.txt"
    subprocess.run([sys.executable, "-c", _FRESH_DRIVER, str(loads)], check=True)
    sources = {}
    for line in loads.read_text().splitlines():
        parts = line.split(" source: ")
        if len(parts) == 2:
            sources[parts[0].split()[-1]] = parts[1]
    # The base archive of the JDK holds java.*; Spark's classes come from the project's archive.
    assert sources["org.apache.spark.SparkContext"] == "shared objects file (top)"
    from_archive = sum(source == "shared objects file (top)" for source in sources.values())
    assert from_archive > 5_000
