"""Makes the JVM class archive of this Java and Spark installation
(trip_features/runtime/class_data_sharing.py).

    python -m jobs.class_archive [--force] [--rows 20000]

Runs the main pipeline (features, registration, a training set, materialization, lookups) on a
small sample in a temporary folder, in a driver JVM that writes every class it loaded to the
archive as it exits: a minute or two, once per installation (scripts/setup.sh runs it). Fresh
jobs on this machine then map those classes instead of loading them from jars. Nothing outside
the temporary folder and the archive folder is written.
"""

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trip_features.runtime import class_data_sharing
from trip_features.runtime.errors import JobError

log = logging.getLogger("jobs.class_archive")


def build(force: bool = False, rows: int = 20_000) -> Path:
    """The archive's path, made now unless it exists (or `force`)."""
    from trip_features.runtime.session import check_java

    path = class_data_sharing.archive_path(check_java())
    if path is None:
        raise JobError("no java or Spark jars folder found: install Java 17 and pyspark first")
    if path.is_file() and not force:
        log.info("class archive up to date: %s", path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.stem}.{os.getpid()}.part")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="class-archive-") as work:
        command = [sys.executable, "-m", "jobs.class_archive", "--workload", work]
        command += ["--rows", str(rows), "--dump", str(part)]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not part.is_file():
        part.unlink(missing_ok=True)
        raise JobError(
            f"the sample run that records the classes failed (exit {done.returncode}); its log "
            f"ends:\n{done.stderr[-3000:]}"
        )
    os.replace(part, path)  # whole archives only: a job never maps one half written
    for old in class_data_sharing.superseded(path):
        old.unlink(missing_ok=True)
        log.info("removed the archive of jars since replaced: %s", old)
    log.info(
        "class archive of %.0f MB made in %.0f s: %s",
        path.stat().st_size / 1e6,
        time.perf_counter() - began,
        path,
    )
    return path


def _record(work: str, rows: int, dump: str) -> None:
    """The sample run, in the child process whose JVM writes the archive to `dump` at exit."""
    from pyspark import SparkContext

    from jobs import pipeline
    from trip_features.runtime.config import load_config
    from trip_features.runtime.session import get_spark

    base = load_config("local")
    overrides = [
        f"paths.trips={work}/trips",
        f"paths.features={work}/features",
        f"paths.registry={work}/feast/registry.db",
        f"paths.online_store={work}/feast/online_store.db",
        "lineage.transport=none",
        f"generate.rows={rows}",
        "spark.class_archive=false",  # CDS cannot record on top of an archive it maps
        f"spark.java_options={base.spark.java_options or ''} -XX:ArchiveClassesAtExit={dump}",
    ]
    conf = load_config("local", overrides)
    spark = get_spark(conf)
    pipeline.run(spark, conf)
    spark.stop()
    # The JVM writes the archive as it exits, which it does when its stdin closes.
    process = SparkContext._gateway.proc if SparkContext._gateway else None
    if process is not None:
        process.stdin.close()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    from trip_features.runtime.command_line import answered, configure_logging

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--force", action="store_true", help="make it again even if it exists")
    parser.add_argument("--rows", type=int, default=20_000, help="sample trips to run on")
    parser.add_argument("--workload", help=argparse.SUPPRESS)  # internal: the recording child
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_logging()
    if args.workload:
        return answered(lambda: _record(args.workload, args.rows, args.dump))
    return answered(lambda: build(args.force, args.rows))


if __name__ == "__main__":
    sys.exit(main())
