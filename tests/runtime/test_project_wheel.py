"""The project's wheel: built from exactly its sources (nothing stale a build folder still holds),
once per change of them, and kept whole or not at all."""

import os
import time
import zipfile
from pathlib import Path

import pytest

from trip_features.runtime.project_packages import PROJECT_PACKAGES
from trip_features.runtime.project_wheel import (
    CODE_ZIP,
    KEPT_SECONDS,
    build_sources,
    built_wheel,
    copied_into,
    copy_sources,
    source_digest,
)

PROJECT = Path(__file__).resolve().parents[2]


def test_the_digest_changes_with_any_source_and_not_with_bytecode(tmp_path):
    copy = copy_sources(PROJECT, tmp_path / "project")
    digest = source_digest(copy)
    (copy / "jobs" / "__pycache__").mkdir(exist_ok=True)
    (copy / "jobs" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"compiled")
    (copy / "build" / "lib").mkdir(parents=True)
    assert source_digest(copy) == digest
    edited = copy / "conf" / "base.yaml"
    original = edited.read_text()
    edited.write_text(original + "\n")
    assert source_digest(copy) != digest
    edited.write_text(original)
    assert source_digest(copy) == digest
    edited.rename(copy / "conf" / "renamed.yaml")  # the same bytes under another name
    assert source_digest(copy) != digest


@pytest.mark.slow  # pip builds the wheel in a process of its own
def test_the_wheel_holds_exactly_the_sources_and_is_built_once_per_change(tmp_path):
    copy = copy_sources(PROJECT, tmp_path / "project")
    stale = copy / "build" / "lib" / "jobs" / "deleted_since.py"  # what setuptools would pack
    stale.parent.mkdir(parents=True)
    stale.write_text("LEFT = 'from a module deleted since'\n")
    cache = tmp_path / "wheels"

    wheel = built_wheel(copy, cache)
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {
        p.relative_to(copy).as_posix()
        for p in build_sources(copy)
        if p.relative_to(copy).parts[0] in PROJECT_PACKAGES
    }
    assert packaged <= names, sorted(packaged - names)
    assert not {n for n in names if not n.startswith("trip_features-")} - packaged
    assert (wheel.parent / CODE_ZIP).read_bytes() == wheel.read_bytes()

    built = os.stat(wheel).st_mtime_ns
    assert built_wheel(copy, cache) == wheel and os.stat(wheel).st_mtime_ns == built
    source = copy / "transforms" / "feature_tables.py"
    source.write_text(source.read_text() + "\n# edited\n")
    edited = built_wheel(copy, cache)
    assert edited.parent != wheel.parent and wheel.is_file()  # a running job may still read it
    with zipfile.ZipFile(edited) as archive:
        assert archive.read("transforms/feature_tables.py").endswith(b"# edited\n")
    assert not list(cache.glob(".building-*"))

    # A wheel goes once neither built nor reused for a day, when another one is built.
    day_old = time.time() - KEPT_SECONDS - 60
    os.utime(wheel.parent, (day_old, day_old))
    os.utime(edited.parent, (day_old, day_old))
    assert built_wheel(copy, cache) == edited  # reused: kept another day
    source.write_text(source.read_text() + "# edited again\n")
    built_wheel(copy, cache)
    assert not wheel.parent.exists() and edited.is_file()


def test_a_wheel_copied_into_a_folder_is_the_only_trip_features_wheel_there(tmp_path):
    wheel = tmp_path / "built" / "trip_features-0.2.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"new wheel")
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "trip_features-0.1.0-py3-none-any.whl").write_bytes(b"old wheel")
    (dist / "other_project-1.0-py3-none-any.whl").write_bytes(b"not ours")
    copy = copied_into(wheel, dist)
    assert copy == dist / wheel.name and copy.read_bytes() == b"new wheel"
    assert sorted(p.name for p in dist.iterdir()) == [
        "other_project-1.0-py3-none-any.whl",
        "trip_features-0.2.0-py3-none-any.whl",
    ]
