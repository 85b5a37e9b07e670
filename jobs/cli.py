"""What every job's command line shares: environment, overrides, logging, exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from jobs.config import load_config


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
        help="override a configuration key, e.g. --set features.percentile_window=2h (repeatable)",
    )
    return parser


def load_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return load_config(args.env, args.overrides)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,  # spark-submit installs handlers of its own first
    )
    for noisy in ("py4j", "hamilton", "feast"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
