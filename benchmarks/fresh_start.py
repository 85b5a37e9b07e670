"""What a fresh job process saves from the JVM class archive, the typeguard cache and the
small-input JIT flags: the same training sets (5,000 entity rows, both services), a feature job
and the main pipeline from an empty workspace (it generates its trips, as the README's first
command does), each in a fresh process, as shipped and without each (and without the first two),
interleaved in one run:

    .venv/bin/python -m benchmarks.fresh_start [--trips 200000] [--repeats 3]
        [--jobs "pipeline from an empty workspace"] [--variants "shipped,no small-input flags"]

"no class archive" runs with `--set spark.class_archive=false`; "no typeguard cache" with an
empty cache folder of its own per run (Feast instruments its classes at import, as without the
cache); "no small-input flags" with `--set spark.small_input_java_options=null` (the driver
compiles as for a long job). Makes the class archive first if this installation has none. Prints median wall
seconds and each variant's ratio to the shipped one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.training_set_latency import SERVICES, _entities, registered_features

PROJECT = Path(__file__).resolve().parents[1]
PIPELINE = "pipeline from an empty workspace"
JOBS = (*(f"training set {service}" for service in SERVICES), "compute_features", PIPELINE)
VARIANTS = {  # name -> (class archive, typeguard cache, small-input flags)
    "shipped": (True, True, True),
    "no small-input flags": (True, True, False),
    "no class archive": (False, True, True),
    "no typeguard cache": (True, False, True),
    "neither of the two": (False, False, True),
}


def _run(command: list[str], archive: bool, cache: bool, quick: bool, scratch: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    if command[2] == "jobs.pipeline":  # from an empty workspace, as on a fresh machine
        env["TRIP_FEATURES_HOME"] = tempfile.mkdtemp(dir=scratch, prefix="workspace-")
    if not cache:
        empty = Path(tempfile.mkdtemp(dir=scratch, prefix="typeguard-"))
        env["TRIP_FEATURES_TYPEGUARD_CACHE"] = str(empty)
    command = [*command, "--set", f"spark.class_archive={'true' if archive else 'false'}"]
    command += [] if quick else ["--set", "spark.small_input_java_options=null"]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", help="comma-separated jobs to time (default: all)")
    parser.add_argument("--variants", help="comma-separated variants (default: all)")
    args = parser.parse_args()
    variants = {v: VARIANTS[v] for v in _chosen(args.variants, VARIANTS)}
    jobs = _chosen(args.jobs, JOBS)
    from jobs import class_archive

    class_archive.build()
    root = Path(tempfile.mkdtemp(prefix="fresh-start-"))
    try:
        settings = registered_features(root, args.trips, ("lineage.transport=none",))
        entities = root / "entities.parquet"
        _entities(root / "features", 5_000, entities)
        sets = [arg for setting in settings for arg in ("--set", setting)]
        commands = {
            f"training set {service}": [
                sys.executable, "-m", "jobs.training_set", "--entities", str(entities),
                "--service", service, "--out", str(root / "ts"), *sets,
            ]
            for service in SERVICES
        }  # fmt: skip
        commands["compute_features"] = [
            sys.executable, "-m", "jobs.compute_features", *sets,
            "--set", f"paths.features={root / 'features-again'}",
        ]  # fmt: skip
        commands[PIPELINE] = [
            sys.executable, "-m", "jobs.pipeline", "--set", f"generate.rows={args.trips}",
            "--set", "lineage.transport=none",
        ]  # fmt: skip
        commands = {job: commands[job] for job in jobs}
        seconds: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            for job, command in commands.items():
                for variant, (archive, cache, quick) in variants.items():
                    wall = _run(command, archive, cache, quick, root)
                    seconds.setdefault((job, variant), []).append(wall)
                    print(f"{job:<32} {variant:<20} {wall:6.1f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nfresh processes on {args.trips:,} trips, median wall s of {args.repeats} runs")
    print(f"{'job':<32}" + "".join(f"{v:>22}" for v in variants))
    for job in commands:
        base = statistics.median(seconds[(job, "shipped")])
        cells = []
        for variant in variants:
            median = statistics.median(seconds[(job, variant)])
            cells.append(f"{median:10.1f} ({median / base:4.2f}x)")
        print(f"{job:<32}" + "".join(f"{c:>22}" for c in cells))


def _chosen(given: str | None, known) -> list[str]:
    names = [n.strip() for n in given.split(",")] if given else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {unknown}: choose among {list(known)}")
    return names


if __name__ == "__main__":
    main()
