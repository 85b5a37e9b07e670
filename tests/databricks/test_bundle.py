"""The Databricks Asset Bundle, checked offline (the databricks CLI cannot be installed here):
every job parses with the databricks-bundles package, which rejects unknown fields; every task
runs an entry point the built wheel has, with arguments its job accepts; the overlay they name
loads; and the task graph is compute -> register -> (training set, materialize)."""

import configparser
import datetime as dt
import importlib
import re
import zipfile
from pathlib import Path

import pytest
import yaml
from databricks.bundles.jobs import Job

from jobs.cli import COMMANDS
from trip_features.runtime.command_line import base_parser
from trip_features.runtime.config import load_config

PROJECT = Path(__file__).resolve().parents[2]
JOB_FILES = sorted((PROJECT / "resources").glob("*.job.yml"))


def _bundle() -> dict:
    return yaml.safe_load((PROJECT / "databricks.yml").read_text())


def _jobs() -> dict[str, dict]:
    jobs = {}
    for path in JOB_FILES:
        jobs.update(yaml.safe_load(path.read_text())["resources"]["jobs"])
    return jobs


def test_the_bundle_includes_every_job_and_has_dev_and_prod_targets():
    bundle = _bundle()
    assert len(JOB_FILES) == 2
    included = [p for pattern in bundle["include"] for p in PROJECT.glob(pattern)]
    assert sorted(included) == JOB_FILES
    assert set(bundle["targets"]) == {"dev", "prod"}
    assert bundle["targets"]["dev"]["default"] is True
    assert bundle["artifacts"]["trip_features_wheel"]["build"].startswith(
        "python -m trip_features.runtime.project_wheel build/wheels --into dist"
    )


def test_every_job_parses_and_uses_only_declared_variables():
    declared = set(_bundle()["variables"])
    for name, body in _jobs().items():
        job = Job.from_dict(body)  # raises on any field a Databricks job does not have
        assert job.max_concurrent_runs == 1, f"{name}: publications must not interleave"
        text = yaml.safe_dump(body)
        used = set(re.findall(r"\$\{var\.(\w+)\}", text))
        assert used <= declared, f"{name} uses undeclared variables {used - declared}"


def test_tasks_run_compute_then_register_then_training_set_and_materialize():
    for name, body in _jobs().items():
        tasks = {t["task_key"]: t for t in body["tasks"]}
        after = {k: {d["task_key"] for d in t.get("depends_on", [])} for k, t in tasks.items()}
        assert after["compute"] == set() and after["register"] == {"compute"}, name
        for later in set(tasks) - {"compute", "register"}:
            assert after[later] == {"register"}, f"{name}: {later}"
    serverless = _jobs()["trip_features_serverless"]
    assert all(t["environment_key"] == "trip_features" for t in serverless["tasks"])
    assert "job_clusters" not in serverless
    cluster = _jobs()["trip_features"]["job_clusters"][0]["new_cluster"]
    assert cluster["spark_env_vars"]["TRIP_FEATURES_REDIS"].startswith("{{secrets/")


def _entry_points(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(name).decode())
    return dict(parser["console_scripts"])


class _Parsed(Exception):
    pass


def _options_of(entry_point: str, monkeypatch) -> set[str]:
    """The options of the job an entry point runs: its parser, caught as main() builds it."""
    module = importlib.import_module(COMMANDS[entry_point.removeprefix("trip-features-")])
    parsers = []

    def capture(doc):
        parser = base_parser(doc)
        parsers.append(parser)

        def stop(argv=None):
            raise _Parsed

        parser.parse_args = stop
        return parser

    with monkeypatch.context() as patched:
        patched.setattr("trip_features.runtime.command_line.base_parser", capture)
        with pytest.raises(_Parsed):
            module.main([])
    return {option for action in parsers[0]._actions for option in action.option_strings}


def test_every_wheel_task_runs_an_entry_point_of_the_built_wheel_with_known_arguments(
    project_wheel, monkeypatch
):
    entry_points = _entry_points(project_wheel)
    for name, body in _jobs().items():
        for task in body["tasks"]:
            wheel_task = task["python_wheel_task"]
            where = f"{name}.{task['task_key']}"
            assert wheel_task["package_name"] == "trip_features", where
            entry = wheel_task["entry_point"]
            assert entry in entry_points, f"{where}: the wheel has no entry point {entry}"
            options = _options_of(entry, monkeypatch)
            for parameter in wheel_task["parameters"]:
                flag = parameter.split("=", 1)[0]
                assert flag in options, f"{where}: {entry} has no option {flag}"
            assert "--env=databricks" in wheel_task["parameters"], where


def test_the_databricks_overlay_loads_with_and_without_the_cluster_variables(monkeypatch):
    for variable in ("TRIP_FEATURES_VOLUME", "TRIP_FEATURES_SCHEMA"):
        monkeypatch.delenv(variable, raising=False)
    conf = load_config("databricks")
    assert conf.paths.features == "/Volumes/main/trip_features/data/features"
    assert conf.publication.kind == "catalog"
    assert conf.publication.schema_name == "hive_metastore.trip_features"
    assert conf.publication.retention == dt.timedelta(days=7)
    assert conf.spark.master is None
    assert conf.feast.online_store.connection_string == "${TRIP_FEATURES_REDIS}"
    monkeypatch.setenv("TRIP_FEATURES_VOLUME", "/Volumes/prod/features/v")
    monkeypatch.setenv("TRIP_FEATURES_SCHEMA", "hive_metastore.features")
    conf = load_config("databricks")
    assert conf.paths.registry == "/Volumes/prod/features/v/feast/registry.db"
    assert conf.publication.schema_name == "hive_metastore.features"
