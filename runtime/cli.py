"""The command line: what every job shares (environment, overrides, logging), and
`trip-features JOB ...`, one command for every job (`python -m jobs.JOB ...` works as well)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from runtime.config import load_config
from runtime.errors import JobError


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(doc or "").strip().splitlines()[0] if doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", default="local", help="configuration overlay in conf/ (default: local)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration key, e.g. --set generate.rows=5000 (repeatable)",
    )
    parser.add_argument(
        "--remote",
        metavar="sc://HOST:PORT",
        help="run on this Spark Connect server (default: SPARK_REMOTE; none: Spark in-process, "
        "or the master spark-submit gives)",
    )
    parser.add_argument(
        "--conf-dir",
        help="a folder of your own configuration files (default: TRIP_FEATURES_CONF_DIR, else the "
        "shipped conf/); files it lacks come from the shipped ones",
    )
    return parser


def answered(body: Callable[[], object]) -> int:
    """Runs a job's body: an error that says what to fix becomes one log line and exit code 2."""
    try:
        body()
    except (JobError, ValueError, FileNotFoundError) as err:
        logging.getLogger("trip-features").error("%s", err)
        return 2
    return 0


def load_from_args(args: argparse.Namespace) -> dict[str, Any]:
    overrides = list(args.overrides)
    if getattr(args, "remote", None):
        overrides.append(f"spark.remote={args.remote}")
    return load_config(args.env, overrides, args.conf_dir)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,  # spark-submit installs handlers of its own first
    )
    for noisy in ("py4j", "hamilton", "feast"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# command -> the job module whose main() it runs
COMMANDS = {
    "pipeline": "jobs.pipeline",
    "generate": "jobs.generate_trips",
    "compute": "jobs.compute_features",
    "register": "jobs.register",
    "training-set": "jobs.training_set",
    "materialize": "jobs.materialize",
    "catalogue": "jobs.catalogue",
    "lineage": "jobs.lineage",
    "ui": "jobs.ui",
    "serve": "jobs.serve",
    "quality-report": "jobs.quality_report",
    "consistency": "jobs.consistency",
    "audit-leakage": "jobs.audit_leakage",
    "class-archive": "jobs.class_archive",
}


def main(argv: list[str] | None = None) -> int:
    """`trip-features COMMAND [ARGS...]`: runs the job's own main with the remaining arguments."""
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: trip-features COMMAND [ARGS...]   (COMMAND --help for its arguments)\n"
        f"commands: {', '.join(COMMANDS)}"
    )
    if argv[:1] in (["-h"], ["--help"]):
        print(usage)
        return 0
    if not argv or argv[0] not in COMMANDS:
        problem = f"unknown command {argv[0]!r}" if argv else "no command given"
        print(f"{usage}\n{problem}: choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    job = importlib.import_module(COMMANDS[argv[0]])
    return job.main(argv[1:])


def _entry_point(command: str) -> Callable[[], None]:
    """A `trip-features-<command>` entry point (Databricks python_wheel_task calls these with the
    task's parameters as sys.argv): a failed job raises SystemExit with its code, so the task
    fails instead of returning quietly."""

    def run() -> None:
        code = main([command, *sys.argv[1:]])
        if code:
            raise SystemExit(code)

    run.__name__ = command.replace("-", "_")
    run.__doc__ = f"trip-features {command} ..."
    return run


pipeline = _entry_point("pipeline")
compute = _entry_point("compute")
register = _entry_point("register")
training_set = _entry_point("training-set")
materialize = _entry_point("materialize")
consistency = _entry_point("consistency")
