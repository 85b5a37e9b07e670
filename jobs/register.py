"""Registers the Feast definitions: prints the plan (what changes), then applies it.

python -m jobs.register [--plan-only] [--env local]
"""

import logging
import sys
from typing import Any

from definitions.feature_store import feature_store, plan_and_apply, repo_contents
from feature_lineage.run_events import job_run, path_dataset, table_dataset

log = logging.getLogger("jobs.register")


def run(conf: dict[str, Any], apply: bool = True) -> str:
    """Plans (and applies) the definitions; returns the printed diff."""
    store = feature_store(conf)
    contents = repo_contents(conf)
    sources = [
        table_dataset(conf, s.table) if s.table else path_dataset(s.path)
        for s in contents.data_sources
        if getattr(s, "path", None) or getattr(s, "table", None)
    ]
    registry = path_dataset(conf["paths"]["registry"])
    with job_run(conf, "register", inputs=sources) as lineage:
        diff = plan_and_apply(store, contents, apply=apply)
        lineage.outputs = [registry] if apply else []
    print(diff or "no changes")
    log.info("%s project %s", "applied" if apply else "planned", store.project)
    return diff


def main(argv: list[str] | None = None) -> int:
    from runtime.cli import answered, base_parser, configure_logging, load_from_args

    parser = base_parser(__doc__)
    parser.add_argument("--plan-only", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    configure_logging()
    return answered(lambda: run(load_from_args(args), apply=not args.plan_only))


if __name__ == "__main__":
    sys.exit(main())
