"""Registers the Feast definitions: prints the plan (what changes), then applies it.

python -m jobs.register [--plan-only] [--env local]
"""

import logging
import os
import shutil
import sys
import tempfile

from definitions.feature_store import feature_store, plan_and_apply, repo_contents
from definitions.serving_log import LogSettings
from trip_features.feature_lineage.code_versions import published_versions
from trip_features.feature_lineage.run_events import job_run, path_dataset, table_dataset
from trip_features.runtime.config import apply_override
from trip_features.runtime.errors import JobError
from trip_features.runtime.locations import is_local, is_uri
from trip_features.runtime.settings import Settings

log = logging.getLogger("jobs.register")


def run(conf: Settings, apply: bool = True, spark=None) -> str:
    """Plans (and applies) the definitions; returns the printed diff. Each view is tagged with
    its table's published code version, read with `spark` (catalog tables need it; published
    folders do not). A plan alone writes nothing: Feast creates the registry and online store
    files even to plan, so it plans against a throw-away copy of the registry, and emits no run
    event."""
    code_versions = published_versions(spark, conf)
    if not apply:
        return _plan_only(conf, code_versions)
    store = feature_store(conf)
    contents = repo_contents(conf, code_versions)
    sources = [
        table_dataset(conf, s.table) if s.table else path_dataset(s.path)
        for s in contents.data_sources
        if getattr(s, "path", None) or getattr(s, "table", None)
    ]
    registry = path_dataset(conf.paths.registry)
    with job_run(conf, "register", inputs=sources) as lineage:
        diff = plan_and_apply(store, contents, apply=apply)
        lineage.outputs = [registry]
    print(diff or "no changes")
    log.info("applied project %s", store.project)
    return diff


def _plan_only(conf: Settings, code_versions: dict[str, str]) -> str:
    registry = conf.paths.registry
    with tempfile.TemporaryDirectory(prefix="trip-features-plan-") as scratch:
        copy = os.path.join(scratch, "registry.db")
        if is_local(registry) and os.path.exists(registry):
            shutil.copy(registry, copy)
        elif is_uri(registry):
            raise JobError(
                f"--plan-only plans against a copy of a local registry; {registry} is remote: "
                "copy it to a local file and point paths.registry at it"
            )
        logged = LogSettings.from_conf(conf)  # where the real registry's services log
        planned = apply_override(conf, f"paths.registry={copy}")
        if logged is not None:
            planned = apply_override(planned, f"paths.serving_log={logged.path}")
        if not os.path.exists(conf.paths.online_store):  # opening it would create it
            scratch_store = os.path.join(scratch, "online.db")
            planned = apply_override(planned, f"paths.online_store={scratch_store}")
        diff = plan_and_apply(
            feature_store(planned), repo_contents(planned, code_versions), apply=False
        )
    print(diff or "no changes")
    log.info("planned (nothing written)")
    return diff


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--plan-only", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    configure_logging()
    return answered(lambda: run(load_from_args(args), apply=not args.plan_only))


if __name__ == "__main__":
    sys.exit(main())
