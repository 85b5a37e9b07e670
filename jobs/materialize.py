"""Loads the latest feature values into the online store, and looks drivers up there.

python -m jobs.materialize --start 2026-01-01 --end 2026-02-01
python -m jobs.materialize --incremental
python -m jobs.materialize --lookup 1001 1002 [--service driver_activity_v1]
"""

import datetime as dt
import logging
import sys
import time

import pandas as pd

from definitions.feature_store import feature_store
from definitions.online_store import answering, check_writable, online_store_settings
from trip_features.feature_lineage import job_datasets
from trip_features.feature_lineage.run_events import job_run
from trip_features.runtime.errors import JobError
from trip_features.runtime.faults import checkpoint
from trip_features.runtime.session import get_spark
from trip_features.runtime.settings import Settings

log = logging.getLogger("jobs.materialize")


def _utc(value: str) -> dt.datetime:
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    ).to_pydatetime()


def run(
    conf: Settings,
    start: str | None = None,
    end: str | None = None,
    incremental: bool = False,
    views: list[str] | None = None,
) -> float:
    """Materializes [start, end] (or since the last run, with incremental) for every feature
    view (or `views`), one after the other; returns seconds. A run stopped half-way is completed
    by running it again: the online store keeps a row only when it is newer than the one it
    holds, so nothing older ever replaces what is served."""
    if not (start or incremental):
        raise ValueError("give --start (and --end), or --incremental")
    store = feature_store(conf)
    began = time.perf_counter()
    end_time = _utc(end) if end else dt.datetime.now(dt.UTC)
    registered = {v.name: v for v in store.list_feature_views()}
    if not registered:
        raise JobError("no feature views are registered: run jobs.register first")
    unknown = sorted(set(views or []) - set(registered))
    if unknown:
        raise JobError(f"feature view(s) {unknown} are not registered; known: {sorted(registered)}")
    views = sorted(views if views is not None else registered)
    warn_about_old_code(conf, [registered[v] for v in views])
    sources = job_datasets.view_sources(store, views, conf)
    online = [job_datasets.online_view(conf, store.project, registered[v]) for v in views]
    for view, dataset in zip(views, online, strict=True):
        dataset.columns = {f.name: [(sources[view], f.name)] for f in registered[view].features}
    check_writable(store, online_store_settings(conf))  # in a second, not after the reading
    # Feast's offline store reads through the active session, and would start its own without
    # this project's settings (UTC, loopback, this interpreter for Python workers)
    get_spark(conf)
    with job_run(conf, "materialize", inputs=list(sources.values())) as lineage:
        _materialize(conf, store, views, start, end_time, incremental)
        lineage.outputs = online
    seconds = time.perf_counter() - began
    log.info("materialized up to %s in %.1f s", end_time.isoformat(), seconds)
    return seconds


def _materialize(conf, store, views: list[str], start, end_time, incremental: bool) -> None:
    with answering(online_store_settings(conf)):
        for view in views:
            if incremental:
                store.materialize_incremental(end_date=end_time, feature_views=[view])
            else:
                store.materialize(start_date=_utc(start), end_date=end_time, feature_views=[view])
            checkpoint(f"materialized:{view}")


def warn_about_old_code(conf: Settings, views: list) -> list[str]:
    """Views whose tables were made by other code than this (their code_version tag): their
    online rows would be too. Logged with what to run; returned."""
    from trip_features.feature_lineage.code_versions import CODE_VERSION_TAG, table_code_versions

    code = table_code_versions(conf)
    old = [v.name for v in views if v.name in code and v.tags.get(CODE_VERSION_TAG) != code[v.name]]
    for name in old:
        log.warning(
            "%s: its table was made by other code (%s) than this checkout's (%s): run "
            "jobs.pipeline to recompute it, register it and refresh its online rows",
            name,
            next(v.tags.get(CODE_VERSION_TAG) for v in views if v.name == name),
            code[name],
        )
    return old


def purge(conf: Settings, views: list[str]) -> None:
    """Deletes every online row of the given feature views (their tables stay): what the old
    code computed is not served, and rows rewritten with the same event time are not skipped
    (Redis keeps a row unless the new one is newer)."""
    store = feature_store(conf)
    objects = [store.get_feature_view(v) for v in views]
    provider = store._get_provider()
    with answering(online_store_settings(conf)):
        for delete, keep in ((objects, []), ([], objects)):  # drop, then recreate empty
            provider.update_infra(
                project=store.project,
                tables_to_delete=delete,
                tables_to_keep=keep,
                entities_to_delete=[],
                entities_to_keep=[],
                partial=True,
            )
    log.info("purged the online rows of %s", ", ".join(views))


def lookup(
    conf: Settings,
    driver_ids: list[int],
    service: str = "driver_activity_v1",
    at: dt.datetime | None = None,
) -> pd.DataFrame:
    """The online features of a service for the given drivers, asked at `at` (default: now;
    Feast keeps whole seconds of it)."""
    store = feature_store(conf)
    rows = [{"driver_id": int(d)} for d in driver_ids]
    if at is not None:
        rows = [{**r, "request_timestamp": at} for r in rows]
    feature_service = store.get_feature_service(service)
    with answering(online_store_settings(conf)):
        answer = store.get_online_features(features=feature_service, entity_rows=rows).to_df()
    if store.serving_log is not None:  # logged now, not when the process ends
        store.serving_log.close()
    return answer


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--start", help="materialize rows from this time (UTC)")
    parser.add_argument("--end", help="... up to this time (default: now)")
    parser.add_argument(
        "--incremental", action="store_true", help="from where the last run stopped"
    )
    parser.add_argument(
        "--lookup", nargs="+", type=int, metavar="DRIVER_ID", help="print online features"
    )
    parser.add_argument("--service", default="driver_activity_v1", help="service for --lookup")
    parser.add_argument("--at", help="--lookup as of this time (UTC; default: now)")
    args = parser.parse_args(argv)
    configure_logging()

    def body():
        conf = load_from_args(args)
        if args.lookup:
            at = _utc(args.at) if args.at else None
            print(lookup(conf, args.lookup, args.service, at).to_string(index=False))
            return
        if not (args.start or args.incremental):
            raise ValueError("give --start (and --end), or --incremental")
        run(conf, args.start, args.end, args.incremental)

    return answered(body)


if __name__ == "__main__":
    sys.exit(main())
