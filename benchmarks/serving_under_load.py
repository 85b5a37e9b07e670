"""The feature server under load: N keep-alive clients, a share of bad requests, first on a quiet
server, then while `jobs.materialize` loads the store again and again, measured in one run.

    .venv/bin/python -m benchmarks.serving_under_load [--rows 200000] [--clients 8] [--seconds 30]
        [--bad 0.1] [--stores sqlite redis]

Computes the features of sample trips, registers them and materializes the first half of the
days; starts `python -m jobs.serve` on a free loopback port (stopped by its pid); then per store
and phase, each client process sends lookups of one random driver on its own kept-alive
connection (a --bad share of them malformed, from a catalogue of client mistakes) for --seconds.
In the second phase materializations of the whole range run back to back in another process.
Prints, per store and phase: good requests, good requests that failed (the target is 0), bad
requests answered 4xx, throughput, p50 and p99 of the good requests in ms, and the p99 against
the quiet phase's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.online_lookup import _serve, _start_redis, store_overrides
from trip_features.runtime.config import load_config
from trip_features.storage.sample_trips import generate_trips, write_trips

BAD_BODIES = [
    {"feature_service": "driver_activity_v1", "entities": {"driver_id": ["abc"]}},
    {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1001.5]}},
    {"feature_service": "driver_activity_v1", "entities": {}},
    {"feature_service": "nope_v1", "entities": {"driver_id": [1]}},
    {"features": ["driver_activity:nope"], "entities": {"driver_id": [1]}},
    {"feature_service": "driver_activity_v1", "entities": {"driver_id": [1], "x": [2]}},
]


def _client(port: int, drivers: list[int], seconds: float, bad: float, seed: int) -> dict:
    """One client's run: good latencies (ms), good failures, bad answers by status."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    good_ms, good_failed, bad_status, reconnects = [], 0, {}, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        is_bad = rng.random() < bad
        body = (
            rng.choice(BAD_BODIES)
            if is_bad
            else {
                "feature_service": "driver_activity_v1",
                "entities": {"driver_id": [rng.choice(drivers)]},
            }
        )
        began = time.perf_counter()
        try:
            connection.request(
                "POST",
                "/get-online-features",
                json.dumps(body),
                {"Content-Type": "application/json"},
            )
            answer = connection.getresponse()
            answer.read()
            status = answer.status
        except (OSError, http.client.HTTPException):
            status = None
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            reconnects += 1
        elapsed = (time.perf_counter() - began) * 1000
        if is_bad:
            bad_status[status] = bad_status.get(status, 0) + 1
        elif status == 200:
            good_ms.append(elapsed)
        else:
            good_failed += 1
    return {
        "good_ms": good_ms,
        "good_failed": good_failed,
        "bad": bad_status,
        "reconnects": reconnects,
    }


def _materialize_loop(overrides: list[str], stop_at: float) -> int:
    """Runs jobs.materialize of the whole range back to back until `stop_at`: runs completed."""
    done = 0
    sets = [a for o in overrides for a in ("--set", o)]
    while time.monotonic() < stop_at:
        job = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobs.materialize",
                "--start",
                "2020-01-01",
                "--end",
                "2030-01-01",
                *sets,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if job.returncode != 0:
            raise SystemExit(f"jobs.materialize failed: {job.stderr[-2000:]}")
        done += 1
    return done


def _phase(port, drivers, args, overrides, materializing: bool) -> dict:
    with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
        began = time.monotonic()
        results = pool.starmap_async(
            _client, [(port, drivers, args.seconds, args.bad, seed) for seed in range(args.clients)]
        )
        runs = _materialize_loop(overrides, began + args.seconds) if materializing else 0
        clients = results.get()
        wall = time.monotonic() - began
    good = np.concatenate([np.array(c["good_ms"]) for c in clients])
    bad = {}
    for c in clients:
        for status, n in c["bad"].items():
            bad[status] = bad.get(status, 0) + n
    return {
        "good": len(good),
        "good_failed": sum(c["good_failed"] for c in clients),
        "bad_4xx": sum(n for s, n in bad.items() if s is not None and 400 <= s < 500),
        "bad_other": sum(n for s, n in bad.items() if s is None or not 400 <= s < 500),
        "reconnects": sum(c["reconnects"] for c in clients),
        "per_second": (len(good) + sum(bad.values())) / wall,
        "p50": float(np.percentile(good, 50)),
        "p99": float(np.percentile(good, 99)),
        "materializations": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--bad", type=float, default=0.1, help="share of malformed requests")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "redis"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="serving-load-"))
    write_trips(generate_trips(rows=args.rows, days=args.days, seed=42), root / "trips")
    redis = None
    if "redis" in args.stores:
        redis, address = _start_redis(root)
        os.environ["TRIP_FEATURES_REDIS"] = address
    rows = []
    try:
        from jobs import compute_features, materialize, register
        from trip_features.runtime.session import get_spark

        shared = [f"paths.trips={root / 'trips'}", f"paths.features={root / 'features'}"]
        base = load_config("local", shared)
        spark = get_spark(base)
        compute_features.run(spark, base)
        import pandas as pd

        drivers = sorted(
            int(d)
            for d in pd.read_parquet(root / "features" / "driver_activity")["driver_id"].unique()
        )
        half = (pd.Timestamp("2026-01-05") + pd.Timedelta(days=args.days // 2)).isoformat()
        for name in args.stores:
            overrides = store_overrides(name, shared, root)
            conf = load_config("local", overrides)
            register.run(conf)
            materialize.run(conf, start="2020-01-01", end=half)
            server, port = _serve("jobs.serve", conf, overrides, root / name)
            try:
                for phase, materializing in (("quiet", False), ("materializing", True)):
                    rows.append(
                        (name, phase, _phase(port, drivers, args, overrides, materializing))
                    )
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
        spark.stop()
    finally:
        if redis is not None:
            redis.send_signal(signal.SIGTERM)
            redis.wait(15)
    print(
        f"\njobs.serve under load: {args.clients} keep-alive clients, {args.bad:.0%} bad "
        f"requests, {args.seconds:g} s per phase, one driver per lookup"
    )
    print(
        f"{'store':<7} {'phase':<14} {'good':>7} {'failed':>6} {'bad 4xx':>7} {'other':>5} "
        f"{'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99 vs quiet':>12} {'mat. runs':>9}"
    )
    quiet = {name: r["p99"] for name, phase, r in rows if phase == "quiet"}
    for name, phase, r in rows:
        print(
            f"{name:<7} {phase:<14} {r['good']:7d} {r['good_failed']:6d} {r['bad_4xx']:7d} "
            f"{r['bad_other']:5d} {r['per_second']:7.0f} {r['p50']:7.2f} {r['p99']:7.2f} "
            f"{r['p99'] / quiet[name]:11.2f}x {r['materializations']:9d}"
        )
    print("failed: good requests not answered 200 (target 0); other: bad requests not answered 4xx")


if __name__ == "__main__":
    main()
