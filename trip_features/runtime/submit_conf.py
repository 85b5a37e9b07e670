"""The settings of a JVM that spark-submit starts before any job reads conf/: a Spark Connect
server (scripts/connect-server.sh) and a job's driver on a cluster (scripts/submit.sh).

    python -m trip_features.runtime.submit_conf [--env local] [--conf-dir DIR]

prints them, a spark-submit argument a line.

A session the project builds in-process gets conf's `spark.conf` (the heap, `spark.driver.memory`,
among them) when its JVM starts; a JVM that spark-submit starts only has what its command line
says, so it gets the same settings there, with the driver's and executors' JVM flags. Without
them a Connect server ran every session on Spark's default 1 GiB heap, its sorts spilling to disk
(docs/benchmark-log.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trip_features.runtime.config import ConfigError, load_config
from trip_features.runtime.session import driver_jvm_options, jvm_options, session_settings
from trip_features.runtime.settings import Settings

# Given by the scripts' own options (--master) or by the JVM flags below, never from conf here.
NOT_FROM_CONF = {"spark.master", "spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"}


def submit_arguments(conf: Settings) -> list[str]:
    """spark-submit's --conf arguments for conf's settings and both JVMs' flags."""
    settings = {k: v for k, v in session_settings(conf).items() if k not in NOT_FROM_CONF}
    settings["spark.driver.extraJavaOptions"] = driver_jvm_options(conf)
    settings["spark.executor.extraJavaOptions"] = jvm_options(conf)
    arguments = []
    for key, value in settings.items():
        if "\n" in key or "\n" in value:
            raise ConfigError(f"spark.conf {key!r} holds a line break: write it on one line")
        arguments += ["--conf", f"{key}={value}"]
    return arguments


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="configuration overlay in conf/")
    parser.add_argument("--conf-dir", type=Path, help="a folder of your own configuration files")
    parser.add_argument(
        "--caller", default="trip_features.runtime.submit_conf", help="the name errors start with"
    )
    args = parser.parse_args(argv)
    try:
        arguments = submit_arguments(load_config(args.env, conf_dir=args.conf_dir))
    except ConfigError as err:
        sys.exit(f"{args.caller}: {err}")
    print("\n".join(arguments))


if __name__ == "__main__":
    main()
