"""No two of the project's modules share a file name: a name says which module it is, in a
traceback, a search or an import, without its folder."""

import os
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCES = {"build", "data", "spark-warehouse"}  # made by setup, jobs and tests
SHARED_BY_DESIGN = {"__init__.py", "conftest.py"}


def _modules() -> list[Path]:
    """The checkout's modules; hidden folders (.venv, .git) and made ones are not entered."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [
            name
            for name in subfolders
            if not (name.startswith(".") or name in NOT_SOURCES or name.endswith(".egg-info"))
        ]
        found += [Path(folder, name) for name in files if name.endswith(".py")]
    return [path for path in found if path.name not in SHARED_BY_DESIGN]


def test_no_two_modules_share_a_name():
    folders = defaultdict(list)
    for path in _modules():
        folders[path.name].append(str(path.parent.relative_to(ROOT)))
    assert len(folders) > 100  # the project's modules were found
    shared = {name: sorted(where) for name, where in folders.items() if len(where) > 1}
    assert not shared, f"rename one of each: {shared}"


def test_the_wheel_adds_only_the_cards_folders_and_one_package_of_its_own():
    """Installed, the project puts the design card's folders and `trip_features` (every support
    package under it) at the top of site-packages: no generic name such as `runtime` or
    `storage` beside another library's."""
    from trip_features.runtime.project_packages import PROJECT_PACKAGES

    card = {"conf", "definitions", "feature_repo", "jobs", "transforms"}
    assert set(PROJECT_PACKAGES) == card | {"trip_features"}, (
        "a new package belongs under trip_features/ (the design card's folders stay at the top)"
    )
