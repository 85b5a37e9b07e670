"""A job's process imports only the Hamilton extensions the transforms use (Hamilton would
import every installed library it has one for: dask, matplotlib, plotly, polars), and the
transforms compute the same tables in it."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from transforms.feature_dataflow import build_driver
from transforms.feature_tables import TABLES
from trip_features.runtime.config import load_config
from trip_features.storage.sample_trips import generate_trips

pytestmark = pytest.mark.slow  # starts processes or servers: the full suite runs it

PROJECT = Path(__file__).resolve().parents[2]
UNUSED = ("dask", "matplotlib", "plotly", "polars")

CHILD = textwrap.dedent(
    """
    import json, sys
    import jobs.compute_features  # a job's imports, in the order `python -m jobs...` makes them
    from trip_features.runtime.config import load_config
    from trip_features.storage.sample_trips import generate_trips
    from transforms.feature_dataflow import build_driver
    from transforms.feature_tables import TABLES

    trips = generate_trips(rows=400, days=2, seed=11, drivers=7)
    tables = build_driver("pandas", load_config("local").features).execute(
        list(TABLES), inputs={"trips_raw": trips}
    )
    loaded = [name for name in sys.argv[1:] if name in sys.modules]
    print(json.dumps({"loaded": loaded, "tables": {n: t.to_json() for n, t in tables.items()}}))
    """
)


def _child(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *UNUSED],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HAMILTON_AUTOLOAD_EXTENSIONS"}
    return {**env, **extra}


def test_a_job_imports_no_unused_extension_and_computes_the_same_tables():
    child = _child(_env())
    assert child["loaded"] == []
    trips = generate_trips(rows=400, days=2, seed=11, drivers=7)
    expected = build_driver("pandas", load_config("local").features).execute(
        list(TABLES), inputs={"trips_raw": trips}
    )
    for name in TABLES:
        pd.testing.assert_frame_equal(
            pd.read_json(child["tables"][name]), pd.read_json(expected[name].to_json())
        )


def test_a_process_that_asked_hamilton_to_autoload_keeps_its_choice():
    child = _child(_env(HAMILTON_AUTOLOAD_EXTENSIONS="1"))
    installed = [name for name in UNUSED if _importable(name)]
    assert installed, "no library with a Hamilton extension is installed: nothing to check"
    assert set(installed) <= set(child["loaded"])


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
