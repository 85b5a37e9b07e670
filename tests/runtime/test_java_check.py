"""The Java check reads the version line, whatever the JVM prints before it."""

import stat

import pytest

from trip_features.runtime.session import JavaMissingError, check_java


def _fake_java(tmp_path, monkeypatch, *lines: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    body = "".join(f"echo '{line}' >&2\n" for line in lines)
    java.write_text(f"#!/bin/sh\n{body}")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))


def test_a_notice_before_the_version_line_is_skipped(tmp_path, monkeypatch):
    _fake_java(
        tmp_path,
        monkeypatch,
        "Picked up JAVA_TOOL_OPTIONS: -XX:+UseParallelGC",
        'openjdk version "17.0.15" 2025-04-15',
    )
    assert check_java() == 'openjdk version "17.0.15" 2025-04-15'


def test_an_old_java_is_refused_with_what_to_install(tmp_path, monkeypatch):
    _fake_java(tmp_path, monkeypatch, 'openjdk version "11.0.2" 2019-01-15')
    with pytest.raises(JavaMissingError, match="Java 17 or newer, found 'openjdk version \"11"):
        check_java()


def test_no_java_at_all_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(JavaMissingError, match="apt-get install openjdk-17"):
        check_java()


def test_the_machines_java_passes():
    assert " version " in check_java()
