"""Small inputs, known from the files before the JVM starts, and the driver flags they bring."""

import os

import pytest

from jobs import training_set
from trip_features.runtime import class_data_sharing
from trip_features.runtime.config import apply_override
from trip_features.runtime.input_size import local_bytes, small_inputs
from trip_features.runtime.session import driver_jvm_options, jvm_options
from trip_features.runtime.sizes import parse_bytes

JAVA = 'openjdk version "17.0.15" 2025-04-15'


def _files(folder, **sizes):
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in sizes.items():
        (folder / name).write_bytes(b"x" * size)
    return folder


def _with(conf, **spark):
    for key, value in spark.items():
        conf = apply_override(conf, f"spark.{key}={'null' if value is None else value}")
    return conf


def test_sizes_are_read_with_their_unit_and_nonsense_is_refused():
    assert parse_bytes("16m", "k") == 16 * 2**20
    assert parse_bytes("512K", "k") == 512 * 2**10
    assert parse_bytes("1gb", "k") == 2**30
    assert parse_bytes(1000, "k") == 1000
    with pytest.raises(ValueError, match="spark.small_input_bytes is 'lots': give a size"):
        parse_bytes("lots", "spark.small_input_bytes")


def test_local_bytes_counts_every_file_under_a_folder_and_its_links(tmp_path):
    data = _files(tmp_path / "table" / "date=1", a=100, b=50)
    _files(tmp_path / "elsewhere", c=7)
    os.symlink(tmp_path / "elsewhere", tmp_path / "table" / "linked")
    assert local_bytes(str(tmp_path / "table")) == 157
    assert local_bytes(str(data / "a")) == 100
    assert local_bytes(f"file://{tmp_path / 'table'}") == 157
    for not_local in ("trip_features.driver_activity", "SELECT 1", "s3://bucket/table"):
        assert local_bytes(not_local) is None
    assert local_bytes(str(tmp_path / "missing")) is None


def test_inputs_are_small_only_when_all_local_and_under_the_limit(tmp_path, conf):
    one, two = _files(tmp_path / "one", a=600), _files(tmp_path / "two", b=500)
    limited = _with(conf, small_input_bytes="1k")
    assert small_inputs(limited, [str(one)])
    assert not small_inputs(limited, [str(one), str(two)])  # 1,100 bytes together
    assert not small_inputs(limited, [str(one), "a_table"])
    assert not small_inputs(limited, [])


def test_only_a_small_input_job_adds_the_small_input_flags_and_only_to_its_driver(
    tmp_path, monkeypatch, conf
):
    monkeypatch.setenv("TRIP_FEATURES_CLASS_ARCHIVES", str(tmp_path / "archives"))
    monkeypatch.setattr(class_data_sharing, "spark_jars", lambda: _files(tmp_path / "jars", a=1))
    quick = _with(conf, small_input_java_options="-XX:TieredStopAtLevel=1")
    assert driver_jvm_options(quick, JAVA) == jvm_options(quick)
    assert driver_jvm_options(quick, JAVA, small_input=True) == (
        f"{jvm_options(quick)} -XX:TieredStopAtLevel=1"
    )
    assert "TieredStopAtLevel" not in jvm_options(quick)  # executors' flags
    none = _with(conf, small_input_java_options=None)
    assert driver_jvm_options(none, JAVA, small_input=True) == jvm_options(none)


def test_a_training_set_counts_its_entity_rows_and_the_feature_tables(tmp_path, conf):
    features = tmp_path / "features"
    for table in conf.features.tables:
        _files(features / table, part=400)
    entities = _files(tmp_path / "entities", part=100)
    local = apply_override(conf, f"paths.features={features}")
    local = apply_override(local, "publication.kind=files")
    size = 400 * len(conf.features.tables)
    assert training_set.small_inputs(_with(local, small_input_bytes=size + 101), str(entities))
    assert not training_set.small_inputs(_with(local, small_input_bytes=size + 100), str(entities))
    local = apply_override(_with(local, small_input_bytes="1g"), "publication.kind=catalog")
    assert not training_set.small_inputs(local, str(entities))  # tables by name: size unknown
