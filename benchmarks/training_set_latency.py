"""How long a data scientist waits for a training set: `jobs.training_set` on the pipeline's data,
in a fresh process (as `python -m jobs.training_set` runs), in a warm session (a notebook's),
from a fresh client process against a warm Spark Connect server, and in a warm Connect session
(a notebook attached to that server):

    .venv/bin/python -m benchmarks.training_set_latency [--trips 200000]
        [--entities 5000 100000 1000000] [--repeats 2]

Computes the features of --trips sample trips and registers them once, then for each entity
size and service times the fresh process (wall, and the job's own seconds from its log),
after one untimed warm-up per service the same call in this process's session, a fresh
client (`--remote`) against a Connect server (local[2], scripts/connect-server.sh, stopped by its
pid) warmed by one run per service, and the same call repeated in one client process connected
to that server, after its own untimed first call. Every training set has exactly its entity rows
(the job checks it). Prints medians of --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trip_features.runtime.config import apply_override, load_config
from trip_features.storage.sample_trips import generate_trips, write_trips

PROJECT = Path(__file__).resolve().parents[1]
SERVICES = ("driver_activity_v1", "driver_trips_v1")
_JOB_SECONDS = re.compile(r"rows out to .* in ([0-9.]+) s")


def _entities(features: Path, rows: int, path: Path) -> None:
    """Entity rows at random drivers and times within the features' span, with a request time."""
    activity = pd.read_parquet(
        features / "driver_activity", columns=["driver_id", "event_timestamp"]
    )
    rng = np.random.default_rng(rows)
    first, last = activity["event_timestamp"].min(), activity["event_timestamp"].max()
    times = first + (last - first) * rng.random(rows)
    frame = pd.DataFrame(
        {
            "driver_id": rng.choice(activity["driver_id"].unique(), rows).astype("int64"),
            "event_timestamp": pd.DatetimeIndex(times).astype("datetime64[us, UTC]"),
        }
    )
    frame["request_timestamp"] = frame["event_timestamp"]
    frame.to_parquet(path, coerce_timestamps="us")


def registered_features(root: Path, trips: int, more: tuple[str, ...] = ()) -> list[str]:
    """Writes `trips` sample trips under `root`, computes and registers their features in a
    session of its own (stopped after); returns the conf overrides that point jobs at them."""
    from jobs import compute_features, register
    from trip_features.runtime.session import get_spark

    write_trips(generate_trips(rows=trips, days=14, seed=42), root / "trips")
    settings = [
        f"paths.trips={root / 'trips'}",
        f"paths.features={root / 'features'}",
        f"paths.registry={root / 'registry.db'}",
        f"paths.online_store={root / 'online.db'}",
        *more,
    ]
    conf = load_config("local")
    for setting in settings:
        conf = apply_override(conf, setting)
    spark = get_spark(conf)
    compute_features.run(spark, conf)
    register.run(conf)
    spark.stop()
    return settings


def _fresh(
    settings: list[str], entities: Path, service: str, out: Path, remote: str | None = None
) -> tuple[float, float]:
    command = [sys.executable, "-m", "jobs.training_set", "--entities", entities]
    command += ["--remote", remote] if remote else []
    command += ["--service", service, "--out", out]
    for setting in settings:
        command += ["--set", setting]
    began = time.perf_counter()
    done = subprocess.run(list(map(str, command)), cwd=PROJECT, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    found = _JOB_SECONDS.search(done.stderr + done.stdout)
    return wall, float(found.group(1)) if found else float("nan")


def _warm_client(
    settings: list[str], entities: Path, service: str, out: Path, remote: str, repeats: int
) -> list[float]:
    """Seconds of each of --repeats training sets in one client process connected to `remote`,
    after an untimed first one: a notebook attached to a Connect server."""
    command = [sys.executable, "-m", "benchmarks.training_set_latency", "--client-of", remote]
    command += ["--client-run", str(entities), service, str(out), str(repeats), *settings]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _client_runs(remote: str, entities: str, service: str, out: str, repeats: str, *settings):
    """The client side of `_warm_client`: prints the timed runs' seconds as a JSON list."""
    from jobs import training_set
    from trip_features.runtime.session import get_spark

    conf = load_config("local")
    for setting in [*settings, f"spark.remote={remote}"]:
        conf = apply_override(conf, setting)
    spark = get_spark(conf)
    training_set.run(spark, conf, entities, service, out)  # the session's first call
    seconds = []
    for _ in range(int(repeats)):
        began = time.perf_counter()
        training_set.run(spark, conf, entities, service, out)
        seconds.append(time.perf_counter() - began)
    print(json.dumps(seconds))


class _ConnectServer:
    """A Connect server started on first use by scripts/connect-server.sh in its own folder."""

    def __init__(self, folder: Path):
        self.env = {**os.environ, "TRIP_FEATURES_CONNECT_DIR": str(folder)}
        self.script = PROJECT / "scripts" / "connect-server.sh"
        self._url: str | None = None

    def url(self) -> str:
        if self._url is None:
            started = subprocess.run(
                ["bash", self.script, "start"], env=self.env, capture_output=True, text=True
            )
            if started.returncode != 0:
                raise RuntimeError(started.stderr[-3000:])
            self._url = started.stdout.strip().splitlines()[-1]
        return self._url

    def stop(self) -> None:
        if self._url is not None:
            subprocess.run(["bash", self.script, "stop"], env=self.env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=200_000)
    parser.add_argument("--entities", type=int, nargs="+", default=[5_000, 100_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--client-of", help=argparse.SUPPRESS)  # internal: the warm client
    parser.add_argument("--client-run", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_of:
        _client_runs(args.client_of, *args.client_run)
        return
    root = Path(tempfile.mkdtemp(prefix="training-latency-"))
    try:
        from jobs import training_set
        from trip_features.runtime.session import get_spark

        settings = registered_features(root, args.trips)
        conf = load_config("local")
        for setting in settings:
            conf = apply_override(conf, setting)
        spark = get_spark(conf)
        connect = _ConnectServer(root / "connect")
        rows = []
        for size in args.entities:
            entities = root / f"entities-{size}.parquet"
            _entities(root / "features", size, entities)
            for service in SERVICES:
                out = root / f"ts-{size}-{service}"
                fresh = [_fresh(settings, entities, service, out) for _ in range(args.repeats)]
                training_set.run(spark, conf, str(entities), service, str(out))  # warm-up
                warm = []
                for _ in range(args.repeats):
                    began = time.perf_counter()
                    training_set.run(spark, conf, str(entities), service, str(out))
                    warm.append(time.perf_counter() - began)
                url = connect.url()
                _fresh(settings, entities, service, out, url)  # warm-up
                client = [
                    _fresh(settings, entities, service, out, url)[0] for _ in range(args.repeats)
                ]
                session = _warm_client(settings, entities, service, out, url, args.repeats)
                rows.append(
                    (
                        size,
                        service,
                        statistics.median(w for w, _ in fresh),
                        statistics.median(j for _, j in fresh),
                        statistics.median(warm),
                        statistics.median(client),
                        statistics.median(session),
                    )
                )
                print(rows[-1], flush=True)
        spark.stop()
    finally:
        if "connect" in locals():
            connect.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\ntraining sets on {args.trips:,} trips, medians of {args.repeats} runs")
    print(
        f"{'entity rows':>11}  {'service':<20} {'fresh wall s':>12} {'(job s)':>8} {'warm s':>7}"
        f" {'Connect client s':>17} {'Connect session s':>18}"
    )
    for size, service, wall, job, warm, client, session in rows:
        print(
            f"{size:>11,}  {service:<20} {wall:12.1f} {job:8.1f} {warm:7.1f} {client:17.1f}"
            f" {session:18.1f}"
        )


if __name__ == "__main__":
    main()
