"""`trip-features JOB ...`: one command for every job (`python -m jobs.JOB ...` works as well),
and the `trip-features-<job>` entry points Databricks tasks call."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

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
