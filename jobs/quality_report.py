"""Writes (again) the HTML page of a feature run's quality report and prints where it is.

    python -m jobs.quality_report [--out data/features] [--run RUN_ID]

Every feature run writes its page itself, beside its JSON report (`<out>/_reports/`); this
rewrites it from the JSON (the latest run by default), for reports of older runs or a new look.
"""

import json
import sys
from pathlib import Path

from trip_features.quality.report import REPORTS
from trip_features.runtime.errors import JobError


def run(out: str, run_id: str | None = None) -> Path:
    """The page of run `run_id` (default: the latest), written beside its JSON report."""
    from trip_features.quality.report_page import write_quality_page

    folder = Path(out) / REPORTS
    runs = sorted(p.stem for p in folder.glob("*.json") if p.stem != "latest")
    if not runs:
        raise JobError(
            f"no feature run has written a report in {folder}: run python -m jobs.compute_features "
            "(or jobs.pipeline) first, or give --out the folder the runs wrote to"
        )
    chosen = folder / f"{run_id}.json" if run_id else folder / "latest.json"
    if not chosen.exists():
        raise JobError(f"no report of run {run_id!r} in {folder}; runs there: {', '.join(runs)}")
    return write_quality_page(json.loads(chosen.read_text()), folder)


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--out", help="the feature folder (default: conf paths.features)")
    parser.add_argument("--run", help="a run id (default: the latest run)")
    args = parser.parse_args(argv)
    configure_logging()

    def body() -> None:
        out = args.out or load_from_args(args).paths.features
        page = run(out, args.run)
        print(f"quality page: {page} (file://{page.resolve()})")

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
