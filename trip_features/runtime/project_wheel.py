"""The project's wheel, built from a clean copy of its sources and kept under their digest.

    python -m trip_features.runtime.project_wheel CACHE [--into DIR]
        prints the path of the wheel (built if need be); --into: of its copy in DIR, which then
        holds no other trip_features wheel (what the Databricks bundle uploads from dist/)

Building in the checkout would let setuptools pack whatever its build/lib still holds, modules
deleted since among them; a copy of exactly the files below has nothing stale. The same sources
give the same digest, so a wheel is built once per change of the code (scripts/submit.sh builds
before every job otherwise). Beside each wheel: the same bytes as trip_features_code.zip, the
name PySpark's --py-files puts on the executors' path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trip_features.runtime.project_packages import PROJECT_PACKAGES

BUILD_FILES = ("setup.cfg", "pyproject.toml", "README.md")  # metadata and long description
CODE_ZIP = "trip_features_code.zip"
WHEEL_CACHE = "build/wheels"  # under the checkout: where submit.sh and the bundle keep wheels
KEPT_SECONDS = 24 * 3600  # wheels of other code older than this go when one is built


def build_sources(root: Path) -> list[Path]:
    """Every file the wheel is built from: BUILD_FILES and the packages' files, without their
    bytecode caches."""
    files = [root / name for name in BUILD_FILES if (root / name).is_file()]
    for package in PROJECT_PACKAGES:
        files += sorted(
            path
            for path in (root / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        )
    return files


def copy_sources(root: Path, to: Path) -> Path:
    """The build sources under `root` copied to the same places under `to`; returns `to`."""
    for path in build_sources(root):
        copy = to / path.relative_to(root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    return to


def source_digest(root: Path) -> str:
    """Names and contents of the build sources under `root`, hashed."""
    digest = hashlib.sha256()
    for path in build_sources(root):
        name, content = path.relative_to(root).as_posix().encode(), path.read_bytes()
        digest.update(b"%d:%s%d:" % (len(name), name, len(content)) + content)
    return digest.hexdigest()


def built_wheel(root: Path, cache: Path) -> Path:
    """The wheel of the sources under `root`: cache/wheel-<digest>/trip_features-*.whl, built
    there unless it already is."""
    kept = cache / f"wheel-{source_digest(root)[:16]}"
    found = sorted(kept.glob("trip_features-*.whl"))
    if found:
        os.utime(kept)  # in use again: kept another KEPT_SECONDS
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    _drop_old(cache)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".building-"))
    try:
        source, out = copy_sources(root, staging / "source"), staging / "out"
        pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir"]
        done = subprocess.run([*pip, str(out), str(source)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not build the project's wheel:\n{done.stderr[-3000:]}")
        shutil.copyfile(next(out.glob("trip_features-*.whl")), out / CODE_ZIP)
        try:
            os.rename(out, kept)  # whole or not at all: readers never see half a folder
        except OSError:
            if not kept.is_dir():  # not another build's result that got there first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return next(kept.glob("trip_features-*.whl"))


def _drop_old(cache: Path) -> None:
    """Wheels not built or reused for KEPT_SECONDS (a running job's executors may still fetch
    one in use lately)."""
    for folder in cache.glob("wheel-*"):
        if time.time() - folder.stat().st_mtime > KEPT_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)


def copied_into(wheel: Path, folder: Path) -> Path:
    """`wheel` copied into `folder`, whose other trip_features wheels go."""
    folder.mkdir(parents=True, exist_ok=True)
    for other in folder.glob("trip_features-*.whl"):
        other.unlink()
    return Path(shutil.copy2(wheel, folder / wheel.name))


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m trip_features.runtime.project_wheel", description=__doc__
    )
    parser.add_argument("cache", type=Path, help="folder that keeps the wheels by digest")
    parser.add_argument("--into", type=Path, help="copy the wheel into this folder")
    args = parser.parse_args(argv)
    project = Path(__file__).resolve().parents[2]
    try:
        wheel = built_wheel(project, args.cache.resolve())
    except RuntimeError as err:
        print(f"project_wheel: {err}", file=sys.stderr)
        return 2
    print(copied_into(wheel, args.into) if args.into else wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
