"""The settings a JVM started by spark-submit (the Connect server, a cluster job's driver) gets
from conf/: the same as a session built in-process, one spark-submit argument a line."""

import subprocess
import sys
from pathlib import Path

import pytest

from trip_features.runtime.config import ConfigError, load_config
from trip_features.runtime.submit_conf import submit_arguments

PROJECT = Path(__file__).resolve().parents[2]


def _settings(arguments: list[str]) -> dict[str, str]:
    assert arguments[::2] == ["--conf"] * (len(arguments) // 2)
    return dict(pair.split("=", 1) for pair in arguments[1::2])


def test_every_spark_conf_setting_of_conf_reaches_the_command_line():
    conf = load_config("local")
    settings = _settings(submit_arguments(conf))
    for key, value in conf.spark.conf.items():
        assert settings[key] == str(value)
    assert settings["spark.driver.memory"] == str(conf.spark.conf["spark.driver.memory"])
    assert settings["spark.sql.session.timeZone"] == "UTC"
    assert "-Duser.timezone=UTC" in settings["spark.driver.extraJavaOptions"]
    assert "-Duser.timezone=UTC" in settings["spark.executor.extraJavaOptions"]
    assert "spark.master" not in settings  # the scripts' --master decides


def test_an_overlay_null_leaves_a_setting_out_and_the_time_zone_cannot_be_changed():
    conf = load_config(
        "local",
        overrides=[
            "spark.conf.spark.driver.memory=null",
            "spark.conf.spark.sql.session.timeZone=Europe/Paris",
        ],
    )
    settings = _settings(submit_arguments(conf))
    assert "spark.driver.memory" not in settings
    assert settings["spark.sql.session.timeZone"] == "UTC"


def test_a_setting_with_a_line_break_is_refused_not_split():
    conf = load_config("local", overrides=['spark.conf.spark.app.note="two\\nlines"'])
    assert conf.spark.conf["spark.app.note"] == "two\nlines"
    with pytest.raises(ConfigError, match="spark.app.note"):
        submit_arguments(conf)


def test_the_command_prints_one_argument_a_line_and_names_a_missing_environment():
    printed = subprocess.run(
        [sys.executable, "-m", "trip_features.runtime.submit_conf"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == submit_arguments(load_config("local"))
    missing = subprocess.run(
        [sys.executable, "-m", "trip_features.runtime.submit_conf", "--env", "nowhere"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0
    assert "nowhere" in missing.stderr
