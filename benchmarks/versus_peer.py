"""The feature job against its fastest single-machine peer (benchmarks/polars_peer.py), both
tables, default quality rules, the same parquet trips, one run after the other:

    .venv/bin/python -m benchmarks.versus_peer [--rows 10000000] [--days 30] [--variants ...]

Before anything is timed, the peer is checked against the project's brute-force oracles on small
inputs, and at full size its tables are compared with the project's, row for row. Variants:

    peer        the Polars peer in a fresh process
    fresh       `python -m jobs.compute_features` in a fresh process (JVM start-up included)
    warm        compute_features.run in this process's session, after one untimed warm-up run
    connect     a fresh client process against a warm Spark Connect server (local[2])
    scale-out   spark-submit to a standalone cluster: 1 worker of 1 core, then 2 of 1 core

Prints seconds per variant and each one's ratio to the peer (scale-out: 1 worker / 2 workers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from storage.sample_trips import generate_trips, write_trips

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
    args = parser.parse_args()
    check_peer_against_oracles()
    work = Path(tempfile.mkdtemp(prefix="versus-peer-"))
    try:
        seconds = _measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nboth feature tables, {args.rows:,} trips over {args.days} days, default rules")
    print(f"{'variant':<28} {'seconds':>9} {'vs peer':>9}")
    for name, value in seconds.items():
        print(f"{name:<28} {value:9.1f} {value / seconds['peer']:8.2f}x")
    if "1 worker" in seconds:
        print(f"scale-out: 2 workers are {seconds['1 worker'] / seconds['2 workers']:.2f}x faster")


def _measure(args, work: Path) -> dict[str, float]:
    trips = work / "trips"
    write_trips(generate_trips(rows=args.rows, days=args.days, seed=1), trips)
    job = [sys.executable, "-m", "jobs.compute_features", "--trips", trips]
    seconds: dict[str, float] = {}
    peer_out = work / "peer"
    seconds["peer"] = _timed(
        [sys.executable, "-m", "benchmarks.polars_peer", "--trips", trips, "--out", peer_out],
        PROJECT,
    )
    if "fresh" in args.variants:
        seconds["fresh"] = _timed([*job, "--out", work / "fresh"], work)
        same_tables(work / "fresh", peer_out)
    if "warm" in args.variants:
        from jobs import compute_features
        from runtime.config import load_config
        from runtime.session import get_spark

        conf = load_config("local")
        spark = get_spark(conf)
        compute_features.run(spark, conf, trips=str(trips), out=str(work / "warm-up"))
        began = time.perf_counter()
        compute_features.run(spark, conf, trips=str(trips), out=str(work / "warm"))
        seconds["warm"] = time.perf_counter() - began
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
            seconds["connect"] = _timed([*job, "--remote", url, "--out", work / "connect"], work)
        finally:
            subprocess.run(["bash", script, "stop"], env=env, capture_output=True)
    if "scale-out" in args.variants:
        seconds["1 worker"], seconds["2 workers"] = _scale_out(trips, work)
    return seconds


if __name__ == "__main__":
    main()
