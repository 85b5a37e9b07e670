"""Configuration: base + environment overlay + command-line overrides."""

import datetime as dt

import pydantic
import pytest

from trip_features.runtime.config import ConfigError, apply_override, load_config


def test_local_env_merges_over_base():
    conf = load_config("local")
    assert conf.spark.master == "local[2]"
    assert conf.spark.conf["spark.sql.session.timeZone"] == "UTC"  # from base
    assert conf.features.percentile_bucket == "24h"
    assert conf.paths.trips.endswith("/data/trips")


def test_overrides_reach_dotted_spark_keys_and_parse_values():
    conf = load_config(
        "local",
        [
            "spark.conf.spark.sql.shuffle.partitions=16",
            "features.percentile_bucket=2h",
            "generate.rows=10",
            "spark.conf.spark.new.setting=x",
        ],
    )
    assert conf.spark.conf["spark.sql.shuffle.partitions"] == "16"  # as Spark takes it
    assert conf.spark.conf["spark.new.setting"] == "x"
    assert conf.features.percentile_bucket == "2h"
    assert conf.generate.rows == 10


def test_unknown_environment_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown environment 'staging'.*local"):
        load_config("staging")


@pytest.mark.parametrize(
    "override, message",
    [
        ("no_equals_sign", "must look like key.path=value"),
        ("nosuch.key=1", "names no configuration section"),
    ],
)
def test_bad_overrides_say_what_to_write(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_override(load_config("local"), override)


def test_settings_are_typed_and_read_only():
    conf = load_config("local")
    assert conf.quality.future_slack == dt.timedelta(hours=1)
    assert conf.spark.small_input_bytes == 16 * 2**20
    assert conf.generate.start == dt.date(2026, 1, 5)
    assert conf.features.tables["driver_activity"].ttl == dt.timedelta(days=1)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        conf.paths.features = "/elsewhere"


def test_a_file_that_is_not_yaml_is_named_with_the_line_to_fix(tmp_path):
    (tmp_path / "mine.yaml").write_text("spark:\n  master: [local[1]\n")
    with pytest.raises(ConfigError) as raised:
        load_config("mine", conf_dir=tmp_path)
    said = str(raised.value)
    assert "mine.yaml is not valid YAML" in said
    assert "line 2, column" in said


def test_every_mistake_of_a_file_is_named_at_once_before_any_job_runs(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "spark:\n  mastr: local[1]\n"
        "quality:\n  max_trip_km: -3\n  future_slack: a bit\n"
        "serving_log:\n  sample_rate: 2\n"
        "lineage:\n  transport: http\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config("mine", conf_dir=tmp_path)
    said = str(raised.value)
    assert said.startswith("5 setting(s) to fix in conf/")
    for problem in (
        "spark.mastr is not a setting; known here: app_name, master,",
        "quality.max_trip_km is -3: Input should be greater than 0",
        "quality.future_slack is 'a bit': 'a bit' is not a duration like '30min'",
        "serving_log.sample_rate is 2: Input should be less than or equal to 1",
        "lineage: transport http needs lineage.url",
    ):
        assert problem in said


@pytest.mark.parametrize("written", ["3600", "1:00:00", "0.5"])
def test_a_duration_without_a_unit_is_refused_not_read_as_nanoseconds(written):
    """pandas reads a bare number as nanoseconds (a ttl of 3600 was 4 us, a slack of 60 was 0),
    and YAML reads 1:00:00 as the number 3600."""
    conf = load_config("local")
    for setting in ("quality.future_slack", "features.tables.driver_activity.ttl"):
        with pytest.raises(ConfigError, match=f"{setting} is .*has no unit: write it like '90s'"):
            apply_override(conf, f"{setting}={written}")
    assert apply_override(conf, "publication.retention=0").publication.retention == dt.timedelta(0)


def test_overrides_are_checked_together_and_leave_the_settings_given_unchanged():
    conf = load_config("local")
    moved = apply_override(conf, "paths.features=elsewhere", "generate.rows=7")
    assert moved.paths.features.endswith("/elsewhere") and moved.generate.rows == 7
    assert conf.generate.rows == 200_000 and conf.paths.features.endswith("/data/features")
    with pytest.raises(ConfigError, match="generate.rows is 'many': Input should be a valid"):
        apply_override(conf, "generate.rows=many")


def test_a_size_that_does_not_parse_is_said_once():
    with pytest.raises(ConfigError) as raised:
        load_config("local", ["spark.small_input_bytes=lots"])
    assert str(raised.value).endswith(
        "spark.small_input_bytes is 'lots': give a size such as 16m, 512k or 1g"
    )
