"""The wheel is self-contained: installed into a fresh venv outside the checkout, its command runs
the main job from a folder that holds no project files."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.slow
def test_the_wheel_runs_the_pipeline_from_an_empty_folder(tmp_path, project_wheel):
    wheel = project_wheel
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel])
    # The dependencies come from this run's environment (a path entry, so its editable hook of
    # the project is not loaded); the project itself only from the wheel.
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    workdir = tmp_path / "empty"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run(
        [
            python,
            "-c",
            "import conf, jobs, transforms.kernels, feature_repo; "
            "print(jobs.__file__, conf.__file__, feature_repo.__file__)",
        ],
        cwd=workdir,
        env=env,
    ).stdout
    assert str(PROJECT) not in where and all(str(site) in p for p in where.split())

    result = _run(
        [
            venv / "bin" / "trip-features",
            "pipeline",
            "--set",
            "generate.rows=4000",
            "--set",
            "generate.days=3",
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
        ],
        cwd=workdir,
        env=env,
        timeout=600,
    )
    assert "pipeline summary" in result.stdout
    assert "trips_stats_3h rows          4000" in result.stdout
    assert (workdir / "data" / "features" / "driver_activity").is_dir()
    assert (workdir / "data" / "feast" / "registry.db").is_file()
    assert not list(workdir.glob("*.py")) and not (workdir / "conf").exists()
