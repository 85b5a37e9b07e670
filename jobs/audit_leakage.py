"""Audits every declared feature for leakage: no value depends on later trips, no window on trips
that have left it (trip_features.quality.leakage_audit): the feature tables on the pandas and the
Spark engine, and the windows at the moment asked as training sets and online lookups compute them.

    python -m jobs.audit_leakage [--engine all|pandas|spark|"training rows"|online] [--cuts 3]
    python -m jobs.audit_leakage --module my_team.new_features --output trips_2h=2h ...

A new feature is audited before it is registered: declare it in conf/ (or name the Hamilton
module and its output nodes, each giving `trip_id` and a column of its own name, with its window
or none). Prints one line per feature; exits 1 when any leaks, 2 when the audit cannot run.
"""

from __future__ import annotations

import importlib
import sys

import pandas as pd

from trip_features.quality.leakage_audit import AT_TRAINING_ROWS, ONLINE, audit_declared
from trip_features.runtime.errors import JobError

ENGINES = ("pandas", "spark", AT_TRAINING_ROWS, ONLINE)


def _output(text: str) -> tuple[str, str | None]:
    node, _, window = text.partition("=")
    return node, window or None


def _modules(names: list[str]) -> list:
    try:
        return [importlib.import_module(name) for name in names]
    except ImportError as err:
        raise JobError(f"cannot import the module to audit: {err} (is it on PYTHONPATH?)") from None


def _shown(window) -> str:
    if window is None:
        return "the trip alone"
    for unit, text in ((pd.Timedelta("1d"), "d"), (pd.Timedelta("1h"), "h")):
        if window % unit == pd.Timedelta(0):
            return f"{window // unit}{text}"
    return f"{window // pd.Timedelta('1min')}min"


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import (
        answered,
        base_parser,
        configure_logging,
        load_from_args,
    )

    parser = base_parser(__doc__)
    parser.add_argument("--engine", choices=["all", *ENGINES], default="all")
    parser.add_argument("--cuts", type=int, default=3, help="cut times per engine (default 3)")
    parser.add_argument("--module", action="append", default=[], help="a Hamilton module")
    parser.add_argument(
        "--output", action="append", default=[], help="NODE or NODE=WINDOW of --module"
    )
    args = parser.parse_args(argv)
    configure_logging()
    leaked: list = []

    def body() -> None:
        conf = load_from_args(args)
        engines = list(ENGINES) if args.engine == "all" else [args.engine]
        spark = None
        if {"spark", AT_TRAINING_ROWS} & set(engines):
            from trip_features.runtime.config import apply_override
            from trip_features.runtime.session import get_spark

            # the audit's trips are a few thousand rows: a few partitions, a small-input driver
            small = apply_override(conf, "spark.conf.spark.sql.shuffle.partitions=2")
            spark = get_spark(small, small_input=True)
        if args.output and not args.module:
            raise JobError("--output names nodes of a --module: give the module too")
        modules = _modules(args.module)
        outputs = dict(_output(o) for o in args.output)
        audited, found = audit_declared(conf.features, engines, spark, modules, outputs, args.cuts)
        features = {f: w for windows in audited.values() for f, w in windows.items()}
        for feature, window in features.items():
            on = [e for e in engines if feature in audited[e]]
            leaky = [e for e in on if any(x.feature == feature for x in found[e])]
            verdict = f"LEAKS on {', '.join(leaky)}" if leaky else "no leak"
            print(f"{feature:<30} {_shown(window):<15} {verdict:<20} audited on {', '.join(on)}")
        for engine, leaks in found.items():
            for leak in leaks:
                print(f"[{engine}] {leak}")
                leaked.append(leak)

    code = answered(body)
    return 1 if code == 0 and leaked else code


if __name__ == "__main__":
    sys.exit(main())
