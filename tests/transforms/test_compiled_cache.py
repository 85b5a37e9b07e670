"""Kernels imported from an archive whose path changes (a wheel shipped per application, a
Connect session's artifacts) are compiled once and then loaded from the cache."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from transforms.kernels.compiled_cache import archived_source
from transforms.kernels.window_kernels import rolling_percentile_rank

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # starts processes or servers: the full suite runs it

PROBE = """
import json, numpy as np
from transforms.kernels import window_kernels as w
ranks = w.rolling_percentile_rank(np.arange(6, dtype=np.int64), np.array([3., 1, 2, 5, 4, 0]), 3)
stats = w.rolling_percentile_rank.stats
print(json.dumps({"file": w.__file__, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()), "ranks": ranks.tolist()}))
"""


def _archive(folder: Path, appended: str = "") -> Path:
    """The transforms package in a wheel, with `appended` added to the kernels' source."""
    folder.mkdir()
    wheel = folder / "trip_features-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in sorted((PROJECT / "transforms").rglob("*.py")):
            text = path.read_text() + (appended if path.name == "window_kernels.py" else "")
            archive.writestr(str(path.relative_to(PROJECT)), text)
    return wheel


def _probe(wheel: Path, cache: Path) -> dict:
    env = {"PYTHONPATH": str(wheel), "TRIP_FEATURES_KERNEL_CACHE": str(cache), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=wheel.parent, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_second_archive_path_loads_the_compiled_kernels(tmp_path):
    cache = tmp_path / "cache"
    first = _probe(_archive(tmp_path / "app-1"), cache)
    second = _probe(_archive(tmp_path / "app-2"), cache)
    assert ".whl/transforms/kernels/window_kernels.py" in first["file"]
    assert "app-2" in second["file"]
    assert (first["hits"], first["misses"]) == (0, 1)
    assert (second["hits"], second["misses"]) == (1, 0)
    expected = rolling_percentile_rank(
        np.arange(6, dtype=np.int64), np.array([3.0, 1, 2, 5, 4, 0]), 3
    )
    assert first["ranks"] == second["ranks"] == expected.tolist()


def test_a_changed_source_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    _probe(_archive(tmp_path / "app-1"), cache)
    changed = _archive(tmp_path / "app-2", appended="\n# changed\n")
    source = archived_source(str(changed / "transforms/kernels/window_kernels.py"))
    assert source.endswith(b"# changed\n")
    assert _probe(changed, cache)["misses"] == 1
    assert len(list(cache.iterdir())) == 2


def test_sources_outside_archives_are_not_archived(tmp_path):
    plain = tmp_path / "module.py"
    plain.write_text("x = 1\n")
    assert archived_source(str(plain)) is None
    assert archived_source(str(tmp_path / "missing.zip" / "module.py")) is None
