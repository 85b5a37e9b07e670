"""The feature job against its fastest single-machine peer (benchmarks/polars_peer.py), both
tables, default quality rules, the same parquet trips, one run after the other:

    .venv/bin/python -m benchmarks.versus_peer [--rows 10000000] [--days 30] [--repeats 3]
        [--variants ...]

Before anything is timed, the peer is checked against the project's brute-force oracles on small
inputs, and at full size its tables are compared with the project's, row for row. Variants:

    peer        the Polars peer in a fresh process
    fresh       `python -m jobs.compute_features` in a fresh process (JVM start-up included)
    warm        compute_features.run in this process's session, after one untimed warm-up run
    connect     a fresh client process against a warm Spark Connect server (local[2])
    scale-out   spark-submit to a standalone cluster: 1 worker of 1 core, then 2 of 1 core

Prints the median seconds of --repeats runs per variant (peer and fresh alternate; warm and
connect repeat in their one session or server) and each median's ratio to the peer's (scale-out:
1 worker / 2 workers, one run each).
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

import numpy as np
import pandas as pd

from trip_features.storage.sample_trips import generate_trips, write_trips

PROJECT = Path(__file__).resolve().parents[1]
VARIANTS = ("peer", "fresh", "warm", "connect", "scale-out")
TABLES = ("trips_stats_3h", "driver_activity")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK"))}


def _timed(args: list, cwd: Path, env: dict | None = None) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env or _clean_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args}: {done.stderr[-3000:]}")
    return time.perf_counter() - began


def check_peer_against_oracles() -> None:
    """The peer equals the oracles on ties-heavy and ordinary trips, or nothing is timed."""
    from benchmarks import polars_peer
    from tests.oracles import adversarial_trips, driver_window_oracle, percentile_oracle

    inputs = {
        "adversarial": adversarial_trips(1500),
        "sample": generate_trips(rows=3000, days=2, seed=3, drivers=30),
    }
    for name, frame in inputs.items():
        root = Path(tempfile.mkdtemp(prefix="peer-check-"))
        frame = frame.sort_values(["event_timestamp", "trip_id"], ignore_index=True)
        write_trips(frame, root / "trips")
        polars_peer.run(str(root / "trips"), str(root / "out"))
        stats = pd.read_parquet(root / "out" / "trips_stats_3h").set_index("trip_id")
        activity = pd.read_parquet(root / "out" / "driver_activity").set_index("trip_id")
        expected = percentile_oracle(frame, polars_peer.PERCENTILE[1])
        np.testing.assert_allclose(
            stats["percentile_dist_rolling_3h"].to_numpy(float),
            expected.loc[stats.index].to_numpy(float),
            rtol=1e-12,
            err_msg=f"peer percentile on {name}",
        )
        windows = driver_window_oracle(frame, polars_peer.DRIVER_WINDOWS)
        for column in polars_peer.DRIVER_WINDOWS:
            np.testing.assert_allclose(
                activity[column].to_numpy(float),
                windows.loc[activity.index, column].to_numpy(float),
                rtol=1e-12,
                err_msg=f"peer {column} on {name}",
            )
        shutil.rmtree(root)
    print("peer: equal to the oracles on the check inputs")


def same_tables(project: Path, peer: Path) -> None:
    """The project's published tables equal the peer's, row for row (floats to 1e-9)."""
    for table in TABLES:
        ours = pd.read_parquet(project / table).sort_values("trip_id", ignore_index=True)
        theirs = pd.read_parquet(peer / table).sort_values("trip_id", ignore_index=True)
        assert len(ours) == len(theirs), f"{table}: {len(ours)} rows, peer {len(theirs)}"
        assert list(ours.columns) == list(theirs.columns), f"{table}: columns differ"
        for column in theirs.columns:
            a, b = ours[column], theirs[column]
            if a.dtype.kind == "f" or b.dtype.kind == "f":
                np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9)
            else:
                assert (a.astype(str).to_numpy() == b.astype(str).to_numpy()).all(), column
    print("project and peer tables are equal")


def _scale_out(trips: Path, work: Path) -> tuple[float, float]:
    """spark-submit on 1 worker of 1 core, then on 2 workers of 1 core."""
    seconds = []
    for workers in (1, 2):
        state = work / f"cluster-{workers}"
        env = {**_clean_env(), "TRIP_FEATURES_CLUSTER_DIR": str(state)}
        cluster = PROJECT / "scripts" / "cluster.sh"
        started = subprocess.run(
            ["bash", cluster, "start", "--workers", str(workers), "--cores", "1"],
            env=env,
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            raise RuntimeError(started.stderr[-3000:])
        url = started.stdout.strip().splitlines()[-1]
        try:
            job = ["bash", PROJECT / "scripts" / "submit.sh", "--master", url]
            job += ["jobs.compute_features", "--trips", trips, "--out", work / f"out-{workers}w"]
            seconds.append(_timed(job, work, env))
        finally:
            subprocess.run(["bash", cluster, "stop"], env=env, capture_output=True)
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (median shown)")
    args = parser.parse_args()
    check_peer_against_oracles()
    work = Path(tempfile.mkdtemp(prefix="versus-peer-"))
    try:
        seconds = _measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nboth feature tables, {args.rows:,} trips over {args.days} days, default rules")
    median = {name: statistics.median(runs) for name, runs in seconds.items()}
    print(f"{'variant':<14} {'median s':>9} {'vs peer':>9}   runs (s)")
    for name, runs in seconds.items():
        each = " ".join(f"{r:.1f}" for r in runs)
        print(f"{name:<14} {median[name]:9.1f} {median[name] / median['peer']:8.2f}x   {each}")
    if "1 worker" in median:
        print(f"scale-out: 2 workers are {median['1 worker'] / median['2 workers']:.2f}x faster")


def _measure(args, work: Path) -> dict[str, list[float]]:
    trips = work / "trips"
    write_trips(generate_trips(rows=args.rows, days=args.days, seed=1), trips)
    job = [sys.executable, "-m", "jobs.compute_features", "--trips", trips]
    seconds: dict[str, list[float]] = {"peer": []}
    peer_out = work / "peer"
    peer = [sys.executable, "-m", "benchmarks.polars_peer", "--trips", trips, "--out", peer_out]
    for _ in range(args.repeats):
        shutil.rmtree(peer_out, ignore_errors=True)
        seconds["peer"].append(_timed(peer, PROJECT))
        if "fresh" in args.variants:
            shutil.rmtree(work / "fresh", ignore_errors=True)
            seconds.setdefault("fresh", []).append(_timed([*job, "--out", work / "fresh"], work))
    if "fresh" in args.variants:
        same_tables(work / "fresh", peer_out)
    if "warm" in args.variants:
        from jobs import compute_features
        from trip_features.runtime.config import load_config
        from trip_features.runtime.session import get_spark

        conf = load_config("local")
        spark = get_spark(conf)
        compute_features.run(spark, conf, trips=str(trips), out=str(work / "warm-up"))
        for i in range(args.repeats):
            began = time.perf_counter()
            compute_features.run(spark, conf, trips=str(trips), out=str(work / f"warm-{i}"))
            seconds.setdefault("warm", []).append(time.perf_counter() - began)
        spark.stop()
    if "connect" in args.variants:
        env = {**_clean_env(), "TRIP_FEATURES_CONNECT_DIR": str(work / "connect-server")}
        script = PROJECT / "scripts" / "connect-server.sh"
        started = subprocess.run(["bash", script, "start"], env=env, capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError(started.stderr[-3000:])
        url = started.stdout.strip().splitlines()[-1]
        try:
            _timed([*job, "--remote", url, "--out", work / "connect-warm-up"], work)
            for i in range(args.repeats):
                client = [*job, "--remote", url, "--out", work / f"connect-{i}"]
                seconds.setdefault("connect", []).append(_timed(client, work))
        finally:
            subprocess.run(["bash", script, "stop"], env=env, capture_output=True)
    if "scale-out" in args.variants:
        one, two = _scale_out(trips, work)
        seconds["1 worker"], seconds["2 workers"] = [one], [two]
    return seconds


if __name__ == "__main__":
    main()
