"""The packages' import layers (setup.cfg [importlinter]): jobs and feature_repo over serving and
lineage, over quality, over the definitions, over the offline store and storage, over the
transforms, over runtime; a module imports only from layers below its own, also inside a
function, and no package's modules import each other in a cycle."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_import_goes_down_the_layers_and_none_in_a_cycle():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(linter), "--no-cache", "--config", str(ROOT / "setup.cfg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_the_layers_name_every_package_of_the_project():
    import configparser

    settings = configparser.ConfigParser()
    settings.read(ROOT / "setup.cfg")
    installed = settings["options.packages.find"]["include"].split()
    linted = settings["importlinter"]["root_packages"].split()
    layered = {
        name.strip()
        for line in settings["importlinter:contract:layers"]["layers"].split("\n")
        for name in line.split("|")
        if name.strip()
    }
    top_level = sorted({p.split(".")[0] for p in installed})
    assert sorted(linted) == top_level
    # the support packages are layered one by one, under their common package
    support = {
        f"trip_features.{p.parent.name}" for p in (ROOT / "trip_features").glob("*/__init__.py")
    }
    assert layered == set(top_level) - {"trip_features"} | support


def test_the_wheel_installs_the_project_packages_each_part_of_the_project_names():
    import configparser

    from trip_features.runtime.project_packages import PROJECT_PACKAGES

    settings = configparser.ConfigParser()
    settings.read(ROOT / "setup.cfg")
    installed = settings["options.packages.find"]["include"].split()
    assert sorted({p.split(".")[0] for p in installed}) == sorted(PROJECT_PACKAGES)
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks"}
    assert on_disk == set(PROJECT_PACKAGES)
