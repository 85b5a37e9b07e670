"""Configuration: base + environment overlay + command-line overrides."""

import pytest

from runtime.config import ConfigError, apply_override, load_config


def test_local_env_merges_over_base():
    conf = load_config("local")
    assert conf["spark"]["master"] == "local[2]"
    assert conf["spark"]["conf"]["spark.sql.session.timeZone"] == "UTC"  # from base
    assert conf["features"]["percentile_bucket"] == "24h"
    assert conf["paths"]["trips"].endswith("/data/trips")


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
    assert conf["spark"]["conf"]["spark.sql.shuffle.partitions"] == 16
    assert conf["spark"]["conf"]["spark.new.setting"] == "x"
    assert conf["features"]["percentile_bucket"] == "2h"
    assert conf["generate"]["rows"] == 10


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
