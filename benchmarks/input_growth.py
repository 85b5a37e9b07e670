"""Time and peak memory of the feature job and of its Polars peer as the input grows, each run in
a fresh process on the same trips:

    .venv/bin/python -m benchmarks.input_growth [--sizes 1000000 10000000 30000000] [--days-per-million 3]

Peak memory is the largest total resident memory of the run's process tree, sampled every 0.2 s
(for the project: the Python driver, the JVM, whose heap spark.driver.memory caps, and the Python
workers; for the peer: its one process). A run whose tree passes --limit-gib (default 20) is
stopped and shown as such: the machine has 24 GiB. Inputs above 1e7 trips are generated in spans
of consecutive days, so generating them does not need the memory being measured.
Writes benchmarks/results/sizes.csv and plots it into docs/feature_job_sizes.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from trip_features.storage.sample_trips import generate_trips, write_trips

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "benchmarks" / "results" / "sizes.csv"
PLOT = PROJECT / "docs" / "feature_job_sizes.png"

# Runs a command, sampling the resident memory of its whole process tree (driver, JVM, Python
# workers) every 0.2 s from /proc; reports wall time and the peak of the tree's total.
_MEASURE = """
import json, os, subprocess, sys, time

def tree_rss(root):
    children, rss = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/statm") as f:
                rss[int(pid)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(parent, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total

limit = float(sys.argv[1]) * 2**30
began = time.perf_counter()
job = subprocess.Popen(
    sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    start_new_session=True,
)
peak = 0
while job.poll() is None:
    peak = max(peak, tree_rss(job.pid))
    if peak > limit:  # stopped before the kernel's OOM killer picks some other process
        os.killpg(job.pid, 9)
        job.wait()
        print(json.dumps({"seconds": None, "peak_gib": peak / 2**30}))
        sys.exit(0)
    time.sleep(0.2)
seconds = time.perf_counter() - began
if job.returncode:
    sys.exit(job.stderr.read()[-3000:])
print(json.dumps({"seconds": seconds, "peak_gib": peak / 2**30}))
"""

CHUNK_ROWS = 10_000_000


def write_sized_trips(size: int, days: int, folder: Path) -> None:
    """`size` trips over `days` days. Above CHUNK_ROWS they are generated in spans of consecutive
    days (unique trip ids, one generator seed per span), so the generator's memory stays that of
    CHUNK_ROWS trips whatever the size."""
    chunks = max(1, -(-size // CHUNK_ROWS))
    if days % chunks:
        raise ValueError(f"{days} days do not split into {chunks} spans of whole days")
    folder.mkdir(parents=True)
    start = pd.Timestamp("2026-01-05")
    for i in range(chunks):
        span = folder.parent / f"span-{i}"
        trips = generate_trips(
            rows=size // chunks,
            days=days // chunks,
            seed=1 + i,
            start=str((start + pd.Timedelta(days=i * days // chunks)).date()),
        )
        trips["trip_id"] += i * (size // chunks)
        write_trips(trips, span)
        for date in span.iterdir():
            date.rename(folder / date.name)
        span.rmdir()


def measured(command: list, limit_gib: float) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(limit_gib), *map(str, command)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout)


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, marker in (("project", "o-"), ("polars peer", "s-")):
        mine = [r for r in rows if r["variant"] == name]
        sizes = [r["trips"] for r in mine]
        seconds = [r["seconds"] if r["seconds"] is not None else float("nan") for r in mine]
        left.plot(sizes, seconds, marker, label=name)
        right.plot(sizes, [r["peak_gib"] for r in mine], marker, label=name)
        for r in mine:
            if r["seconds"] is None:  # stopped at the memory limit
                right.annotate(
                    "stopped",
                    (r["trips"], r["peak_gib"]),
                    textcoords="offset points",
                    xytext=(-60, -4),
                )
    for axis, label in (
        (left, "wall seconds (fresh process)"),
        (right, "peak RSS of the process tree, GiB"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("trips")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.suptitle("Both feature tables, default quality rules (benchmarks/input_growth.py)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 30_000_000])
    parser.add_argument("--days-per-million", type=float, default=3.0)
    parser.add_argument(
        "--limit-gib",
        type=float,
        default=20.0,
        help="stop a run whose process tree holds more memory than this (default 20 GiB)",
    )
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="sizes-bench-"))
        try:
            days = max(1, round(size / 1e6 * args.days_per_million))
            write_sized_trips(size, days, work / "trips")
            peer = [sys.executable, "-m", "benchmarks.polars_peer", "--trips", work / "trips"]
            job = [sys.executable, "-m", "jobs.compute_features", "--trips", work / "trips"]
            for name, command in (
                ("polars peer", [*peer, "--out", work / "peer"]),
                ("project", [*job, "--out", work / "project"]),
            ):
                result = measured(command, args.limit_gib)
                rows.append({"trips": size, "days": days, "variant": name, **result})
                took = (
                    f"{result['seconds']:8.1f} s"
                    if result["seconds"] is not None
                    else f"stopped above {args.limit_gib:g} GiB"
                )
                print(
                    f"{size:>12,} {days:>4} days  {name:<12} {took} {result['peak_gib']:6.2f} GiB",
                    flush=True,
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows)
    print(f"wrote {RESULTS} and {PLOT}")


if __name__ == "__main__":
    main()
