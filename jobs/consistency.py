"""Replays the serving log: every logged answer rebuilt offline at its request time, compared
feature by feature, every difference given one cause (trip_features.quality.serving_replay).

    python -m jobs.consistency [--service NAME ...] [--since YYYY-MM-DD]

Writes `<features>/_reports/consistency-<time>.json` and its HTML page (a chart per cause), and
consistency-latest.*, beside the quality reports; emits an OpenLineage run with a `consistency`
facet (counts, match rate, causes); prints one line per feature and the match rate. Exits 1
when the share of unexplained differences is over `consistency.max_unexplained_fraction` (conf),
so a scheduled job or a Databricks task can gate on it; 2 when it cannot run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

from trip_features.quality.report import REPORTS
from trip_features.quality.serving_replay import UNEXPLAINED, replay, summary
from trip_features.runtime.errors import JobError
from trip_features.runtime.settings import Settings

log = logging.getLogger("jobs.consistency")


def run(
    spark,
    conf: Settings,
    services: list[str] | None = None,
    since: dt.date | None = None,
    logged_after: dt.datetime | None = None,
) -> dict:
    """The replay of every logged service (or `services`), of the answers logged on or after
    `since` (a date) and after `logged_after` (a moment); returns the report (JSON-ready)."""
    from pyspark.sql import functions as F

    from definitions.feature_store import registered_store
    from trip_features.feature_lineage.run_events import job_run, path_dataset
    from trip_features.quality.consistency_page import write_consistency_page

    store = registered_store(conf)
    logged = {
        s.name: s
        for s in store.list_feature_services()
        if s.logging_config is not None and (not services or s.name in services)
    }
    unknown = sorted(set(services or []) - set(logged))
    if unknown:
        raise JobError(f"no serving log is configured for {unknown}: known are {sorted(logged)}")
    paths = {n: s.logging_config.destination.path for n, s in sorted(logged.items())}
    present = {n: p for n, p in paths.items() if Path(p).exists()}
    for name in sorted(set(paths) - set(present)):
        log.info("%s: nothing logged yet (%s)", name, paths[name])
    with job_run(conf, "consistency", inputs=[path_dataset(p) for p in present.values()]) as run:
        reports = {}
        for name, path in present.items():
            rows = spark.read.parquet(path)
            if since is not None:
                rows = rows.where(F.col("__log_date") >= F.lit(since))
            if logged_after is not None:
                rows = rows.where(F.col("__log_timestamp") > F.lit(logged_after))
            reports[name], _ = replay(spark, store, logged[name], rows)
        report = summary(reports)
        report["replayed_at"] = dt.datetime.now(dt.UTC).isoformat()
        written = _write(report, conf.paths.features)
        page = write_consistency_page(report, written)
        log.info("consistency report %s, page %s", written, page)
        run.outputs = [path_dataset(str(written))]
        run.facets["consistency"] = {
            "compared": report["compared"],
            "equal": report["equal"],
            "matchRate": report["match_rate"],
            "causes": report["causes"],
        }
    return report


def _write(report: dict, features: str) -> Path:
    folder = Path(features) / REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report["replayed_at"].replace(":", "").replace("+0000", "Z")
    body = json.dumps(report, indent=2, sort_keys=True, default=str)
    path = folder / f"consistency-{stamp}.json"
    for target in (path, folder / "consistency-latest.json"):
        hidden = target.with_name(f".{target.name}")
        hidden.write_text(body)
        os.replace(hidden, target)
    return path


def unexplained_fraction(report: dict) -> float:
    return report["causes"][UNEXPLAINED] / report["compared"] if report["compared"] else 0.0


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )
    from trip_features.runtime.session import get_spark

    parser = base_parser(__doc__)
    parser.add_argument("--service", action="append", help="a logged service (default: all)")
    parser.add_argument("--since", help="answers logged on or after this date (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    configure_logging()
    gate: list[str] = []

    def body() -> None:
        conf = load_from_args(args)
        since = dt.date.fromisoformat(args.since) if args.since else None
        report = run(get_spark(conf), conf, args.service, since)
        for service, features in report["services"].items():
            for feature, r in features.items():
                causes = ", ".join(f"{c} {n}" for c, n in r["causes"].items() if n)
                print(
                    f"{service:<20} {feature:<45} {r['equal']:>7}/{r['compared']:<7} equal"
                    f"  missing {r['missing']}  extra {r['extra']}  different {r['different']}"
                    + (f"  ({causes})" if causes else "")
                )
        rate = report["match_rate"]
        print(f"match rate {rate:.4%}" if rate is not None else "nothing logged to replay")
        limit = conf.consistency.max_unexplained_fraction
        share = unexplained_fraction(report)
        if share > limit:
            gate.append(
                f"{report['causes'][UNEXPLAINED]} unexplained differences ({share:.4%} of the "
                f"values compared) are over consistency.max_unexplained_fraction ({limit:.4%}): "
                "the online and offline paths disagree; the report lists them"
            )

    code = answered(body)
    if code == 0 and gate:
        logging.getLogger("trip-features").error("%s", gate[0])
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
