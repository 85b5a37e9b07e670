"""What a fresh job process saves from the JVM class archive, the typeguard cache and the
small-input JIT flags: the same training sets (5,000 entity rows, both services) and a feature
job, each in a fresh process, as shipped and without each (and without the first two),
interleaved in one run:

    .venv/bin/python -m benchmarks.fresh_start [--trips 200000] [--repeats 3]

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
VARIANTS = {  # name -> (class archive, typeguard cache, small-input flags)
    "shipped": (True, True, True),
    "no small-input flags": (True, True, False),
    "no class archive": (False, True, True),
    "no typeguard cache": (True, False, True),
    "neither of the two": (False, False, True),
}


def _run(command: list[str], archive: bool, cache: bool, quick: bool, scratch: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
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
    args = parser.parse_args()
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
        seconds: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            for job, command in commands.items():
                for variant, (archive, cache, quick) in VARIANTS.items():
                    wall = _run(command, archive, cache, quick, root)
                    seconds.setdefault((job, variant), []).append(wall)
                    print(f"{job:<32} {variant:<20} {wall:6.1f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nfresh processes on {args.trips:,} trips, median wall s of {args.repeats} runs")
    print(f"{'job':<32}" + "".join(f"{v:>22}" for v in VARIANTS))
    for job in commands:
        base = statistics.median(seconds[(job, "shipped")])
        cells = []
        for variant in VARIANTS:
            median = statistics.median(seconds[(job, variant)])
            cells.append(f"{median:10.1f} ({median / base:4.2f}x)")
        print(f"{job:<32}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
