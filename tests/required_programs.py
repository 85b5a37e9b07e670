"""The one policy for the programs some tests need (Redis, Graphviz, Chromium): a test that needs
one it cannot find fails, naming the Debian package to install. `.ci/run` installs them all
(scripts/setup.sh --with-test-services), so none is ever skipped."""

from __future__ import annotations

import shutil

import pytest


def required_program(*names: str, package: str) -> str:
    """The path of the first of `names` on PATH; the test fails if there is none."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"{names[0]} is not installed: apt-get install {package} "
        "(bash scripts/setup.sh --with-test-services installs it; .ci/run does)"
    )
