"""What every job's command line shares: the environment, overrides, logging and exit codes
(the `trip-features` command itself is jobs.cli)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from trip_features.runtime.config import load_config
from trip_features.runtime.errors import JobError


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
