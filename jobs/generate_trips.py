"""Generates a deterministic synthetic trips table: same arguments, same bytes.

python -m jobs.generate_trips --rows 1000000 --days 30 --seed 42 --out data/trips
"""

from __future__ import annotations

import logging
import os
import sys
import time

from trip_features.feature_lineage.job_datasets import location_dataset
from trip_features.feature_lineage.run_events import job_run
from trip_features.runtime.config import apply_override
from trip_features.runtime.settings import Settings
from trip_features.storage.sample_trips import generate_trips, write_trips

log = logging.getLogger(__name__)


def run(conf: Settings, out: str, overwrite: bool = False) -> int:
    """Generates and writes the trips described by `conf.generate`; returns the row count."""
    with job_run(conf, "generate_trips") as lineage:
        written = _generate(conf, out, overwrite)
        lineage.outputs = [location_dataset(conf, out, rows=written)]
    return written


def _generate(conf: Settings, out: str, overwrite: bool) -> int:
    params = conf.generate
    began = time.perf_counter()
    trips = generate_trips(
        rows=params.rows,
        days=params.days,
        seed=params.seed,
        start=params.start.isoformat(),
        drivers=params.drivers,
        riders=params.riders,
        null_dist_fraction=params.null_dist_fraction,
    )
    written = write_trips(trips, out, overwrite=overwrite)
    log.info(
        "generated %d trips over %s days into %s in %.1f s",
        written,
        params.days,
        out,
        time.perf_counter() - began,
    )
    return written


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--rows", type=int, help="number of trips (default: conf generate.rows)")
    parser.add_argument("--days", type=int, help="number of days (default: conf generate.days)")
    parser.add_argument("--seed", type=int, help="random seed (default: conf generate.seed)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (default: conf generate.start)")
    parser.add_argument("--out", help="output folder (default: conf paths.trips)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    configure_logging()

    def body():
        conf = load_from_args(args)
        given = {k: getattr(args, k) for k in ("rows", "days", "seed", "start")}
        for key, value in given.items():
            if value is not None:
                conf = apply_override(conf, f"generate.{key}={value}")
        out = os.path.abspath(args.out) if args.out else conf.paths.trips
        run(conf, out, overwrite=args.overwrite)

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
