"""A job from a fresh process: Spark in-process (a JVM per run) against a fresh client of a warm
Spark Connect server, on the same input, one after the other in one run.

    .venv/bin/python -m benchmarks.connect_startup [--rows 200000] [--days 14] [--repeats 3]

Prints the wall seconds of each run and the median ratio local / Connect. The server is started
with scripts/connect-server.sh (local[2], as the in-process runs) and stopped at the end.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trip_features.storage.sample_trips import generate_trips, write_trips

PROJECT = Path(__file__).resolve().parents[1]


def _timed(args: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}
    began = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="connect-bench-"))
    write_trips(generate_trips(rows=args.rows, days=args.days, seed=42), root / "trips")
    state = root / "server"
    env = {**os.environ, "TRIP_FEATURES_CONNECT_DIR": str(state)}
    script = PROJECT / "scripts" / "connect-server.sh"
    started = subprocess.run(["bash", script, "start"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        raise SystemExit(started.stderr)
    url = started.stdout.strip().splitlines()[-1]
    job = [sys.executable, "-m", "jobs.compute_features", "--trips", str(root / "trips")]
    try:
        _timed([*job, "--remote", url, "--out", str(root / "warm-up")], root)  # warms the server
        rows = []
        for i in range(args.repeats):
            local = _timed([*job, "--out", str(root / f"local{i}")], root)
            connect = _timed([*job, "--remote", url, "--out", str(root / f"connect{i}")], root)
            rows.append((local, connect))
    finally:
        subprocess.run(["bash", script, "stop"], env=env, capture_output=True)
    print(f"\njobs.compute_features, {args.rows:,} trips over {args.days} days, fresh processes")
    print(f"{'run':>4} {'local[2] in-process (s)':>24} {'warm Connect client (s)':>24}")
    for i, (local, connect) in enumerate(rows, 1):
        print(f"{i:>4} {local:>24.1f} {connect:>24.1f}")
    ratio = statistics.median(local / connect for local, connect in rows)
    print(f"median local / Connect: {ratio:.2f}x")


if __name__ == "__main__":
    main()
