"""Training set, materialization and online lookup benchmark: the project's store against Feast's.

    .venv/bin/python -m benchmarks.versus_feast_store [--entities 10000 100000 1000000]
        [--features 1000000 10000000] [--timeout 900] [--lookups 1000]

Both stores read the same feature parquet (1,000 drivers) and write the training set as parquet
(`to_spark_df`, so neither collects to the driver), in the same run. A stock run past --timeout is
cancelled and reported as "> timeout". Prints a table and writes benchmarks/results/*.csv.
"""

import argparse
import datetime as dt
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, ValueType
from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkOfflineStoreConfig
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
from feast.repo_config import RepoConfig
from feast.types import Float64, Int64
from pyspark.sql import functions as F

from definitions.feature_store import shipped_repo_settings
from trip_features.offline_store.spark_store import ProjectSparkOfflineStoreConfig
from trip_features.runtime.config import load_config
from trip_features.runtime.session import get_spark

DRIVERS = 1_000
SHIPPED_REPO = shipped_repo_settings()
START = pd.Timestamp("2026-01-01", tz="UTC")
DAYS = 30
RESULTS = Path(__file__).resolve().parent / "results"


def write_features(spark, rows: int, path: str) -> None:
    span = DAYS * 86_400 * 10**6
    (
        spark.range(rows, numPartitions=8)
        .select(
            (F.col("id") % DRIVERS + 1000).alias("driver_id"),
            F.timestamp_micros(F.lit(START.value // 1000) + (F.rand(1) * span).cast("long")).alias(
                "event_timestamp"
            ),
            F.rand(2).alias("mean_dist_24h"),
            (F.rand(3) * 100).cast("long").alias("trips_24h"),
        )
        .withColumn("created", F.col("event_timestamp") + F.expr("INTERVAL 5 MINUTES"))
        .write.mode("overwrite")
        .parquet(path)
    )


def entity_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    offsets = rng.integers(0, DAYS * 86_400 * 10**6, size=rows)
    return pd.DataFrame(
        {
            "driver_id": rng.integers(1000, 1000 + DRIVERS, size=rows).astype("int64"),
            "event_timestamp": (START + pd.to_timedelta(offsets, unit="us")).astype(
                "datetime64[us, UTC]"
            ),
            "label": rng.integers(0, 2, size=rows).astype("int64"),
        }
    )


def make_store(root: Path, features_path: str, offline) -> FeatureStore:
    root.mkdir(parents=True, exist_ok=True)
    store = FeatureStore(
        config=RepoConfig(
            project="bench",
            provider="local",
            registry=str(root / "registry.db"),
            offline_store=offline,
            online_store=SqliteOnlineStoreConfig(path=str(root / "online.db")),
            materialization=SHIPPED_REPO["materialization"],  # as the project's store runs
            entity_key_serialization_version=3,
            repo_path=str(root),
        )
    )
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = SparkSource(
        name="activity",
        path=features_path,
        file_format="parquet",
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    view = FeatureView(
        name="activity",
        entities=[driver],
        ttl=dt.timedelta(days=2),
        source=source,
        schema=[Field(name="mean_dist_24h", dtype=Float64), Field(name="trips_24h", dtype=Int64)],
    )
    store.apply([driver, source, view, FeatureService(name="activity_v1", features=[view])])
    return store


def timed_training_set(
    spark, store, entities: pd.DataFrame, out: str, timeout: float
) -> float | None:
    """Seconds to build and write the training set, or None when cancelled at `timeout`."""
    timer = threading.Timer(timeout, spark.sparkContext.cancelAllJobs)
    began = time.perf_counter()
    timer.start()
    try:
        job = store.get_historical_features(
            entity_df=entities, features=["activity:mean_dist_24h", "activity:trips_24h"]
        )
        job.to_spark_df().write.mode("overwrite").parquet(out)
        return time.perf_counter() - began
    except Exception as err:  # cancelled: Spark raises its own error types
        if time.perf_counter() - began >= timeout:
            return None
        raise err
    finally:
        timer.cancel()


def online_latency(store: FeatureStore, lookups: int) -> dict[str, float]:
    rng = np.random.default_rng(3)
    times = []
    for driver in rng.integers(1000, 1000 + DRIVERS, size=lookups):
        began = time.perf_counter()
        store.get_online_features(
            features=["activity:mean_dist_24h", "activity:trips_24h"],
            entity_rows=[{"driver_id": int(driver)}],
        ).to_dict()
        times.append(time.perf_counter() - began)
    return _percentiles(times)


def _percentiles(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"p50_ms": statistics.median(ms), "p99_ms": ms[int(0.99 * (len(ms) - 1))]}


def http_latency(root: Path, store: FeatureStore, lookups: int) -> dict[str, float]:
    (root / "feature_store.yaml").write_text(
        "project: bench\nprovider: local\n"
        f"registry: {root / 'registry.db'}\n"
        f"online_store:\n  type: sqlite\n  path: {root / 'online.db'}\n"
        "offline_store:\n  type: trip_features.offline_store.spark_store.ProjectSparkOfflineStore\n"
        "entity_key_serialization_version: 3\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("feast")),
            "-c",
            str(root),
            "serve",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rng = np.random.default_rng(4)
    url = f"http://127.0.0.1:{port}/get-online-features"

    def ask(driver: int) -> None:
        body = json.dumps(
            {
                "features": ["activity:mean_dist_24h", "activity:trips_24h"],
                "entities": {"driver_id": [driver]},
            }
        ).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).read()

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                ask(1000)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("feast serve did not start") from None
                time.sleep(1)
        times = []
        for driver in rng.integers(1000, 1000 + DRIVERS, size=lookups):
            began = time.perf_counter()
            ask(int(driver))
            times.append(time.perf_counter() - began)
        return _percentiles(times)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--features", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds before a run is cancelled"
    )
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args(argv)

    spark = get_spark(load_config("local"))
    spark.sparkContext.setLogLevel("ERROR")
    work = Path(tempfile.mkdtemp(prefix="pit-bench-"))
    rows = []
    try:
        for n_features in args.features:
            features_path = str(work / f"features-{n_features}")
            write_features(spark, n_features, features_path)
            stores = {
                "project": make_store(
                    work / f"project-{n_features}", features_path, ProjectSparkOfflineStoreConfig()
                ),
                "stock": make_store(
                    work / f"stock-{n_features}", features_path, SparkOfflineStoreConfig()
                ),
            }
            timed_training_set(
                spark, stores["project"], entity_frame(1000, 9), str(work / "warm"), args.timeout
            )
            for n_entities in args.entities:
                entities = entity_frame(n_entities)
                result = {"features": n_features, "entities": n_entities}
                for name, store in stores.items():
                    seconds = timed_training_set(
                        spark, store, entities, str(work / f"ts-{name}"), args.timeout
                    )
                    result[f"{name}_s"] = seconds
                    shown = f"> {args.timeout:.0f}" if seconds is None else f"{seconds:.1f}"
                    print(
                        f"features={n_features:,} entities={n_entities:,} {name}: {shown} s",
                        flush=True,
                    )
                rows.append(result)

        # Materialization and online lookups on the smallest feature table.
        n_features = args.features[0]
        store = make_store(
            work / "online", str(work / f"features-{n_features}"), ProjectSparkOfflineStoreConfig()
        )
        began = time.perf_counter()
        store.materialize(START.to_pydatetime(), (START + pd.Timedelta(days=DAYS)).to_pydatetime())
        materialize_s = time.perf_counter() - began
        sdk = online_latency(store, args.lookups)
        http = http_latency(work / "online", store, args.lookups)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = pd.DataFrame(rows)
    table["speedup"] = table["stock_s"] / table["project_s"]
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "training_set.csv", index=False)
    (RESULTS / "training_set_timeout.txt").write_text(str(args.timeout))
    print(f"\ntraining set build, local[2], {DRIVERS:,} drivers, timeout {args.timeout:.0f} s")
    print(
        f"{'feature rows':>13} {'entity rows':>12} {'project s':>10} {'stock s':>10} {'stock/project':>14}"
    )
    for r in table.itertuples():
        stock = f"> {args.timeout:.0f}" if pd.isna(r.stock_s) else f"{r.stock_s:.1f}"
        ratio = (
            f"> {args.timeout / r.project_s:.1f}x" if pd.isna(r.stock_s) else f"{r.speedup:.1f}x"
        )
        print(f"{r.features:>13,} {r.entities:>12,} {r.project_s:>10.1f} {stock:>10} {ratio:>14}")
    print(
        f"\nmaterialize: {n_features:,} rows in {materialize_s:.1f} s = {n_features / materialize_s:,.0f} rows/s "
        f"(source rows scanned; {DRIVERS:,} keys written)"
    )
    print(
        f"online lookup, {args.lookups} requests of one driver: SDK p50 {sdk['p50_ms']:.1f} ms, "
        f"p99 {sdk['p99_ms']:.1f} ms; HTTP (feast serve) p50 {http['p50_ms']:.1f} ms, p99 {http['p99_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
