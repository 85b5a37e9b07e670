"""Feature job benchmark: the Spark job against the seed's pandas code and Spark's own floor.

    .venv/bin/python -m benchmarks.feature_job [--sizes 100000 1000000 10000000] [--days 30]

Every variant reads the same parquet trips and writes its result as parquet, one after another in
one run, so the ratios compare like with like on a shared, noisy machine. Most run in this warm
process; the two "fresh process" variants start a new interpreter (and JVM) as a scheduled job
does.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pandas as pd

from jobs import compute_features
from trip_features.runtime.config import load_config
from trip_features.runtime.session import get_spark
from trip_features.storage.sample_trips import generate_trips, write_trips
from trip_features.storage.table_layout import PARTITION_COLUMN, with_date_partition


def seed_pandas(trips_path: str, out: str, deterministic: bool) -> None:
    """The design note's pandas code: load, sort, calendar features, rolling rank, save."""
    df = pd.read_parquet(trips_path)
    if deterministic:
        df = df.sort_values(["event_timestamp", "trip_id"], kind="stable")
    else:
        df = df.sort_values(by="event_timestamp")
    day_of_week = df["event_timestamp"].dt.day_of_week
    is_weekend = (day_of_week >= 5).astype(int)
    hour_of_day = df["event_timestamp"].dt.hour
    pct = df.rolling("3h", on="event_timestamp")["trip_dist"].rank(pct=True)
    table = pd.concat(
        [
            df[["trip_id", "driver_id", "event_timestamp", "created"]],
            day_of_week,
            is_weekend,
            hour_of_day,
            pct,
        ],
        axis=1,
    )
    table.columns = [
        "trip_id",
        "driver_id",
        "event_timestamp",
        "created",
        "day_of_week",
        "is_weekend",
        "hour_of_day",
        "percentile_dist_rolling_3h",
    ]
    table.to_parquet(os.path.join(out, "trips_stats_3h.parquet"), coerce_timestamps="us")


def plain_write(table, path: str) -> None:
    """Spark's floor: the same layout written with a plain dynamic partition overwrite."""
    (
        with_date_partition(table)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(PARTITION_COLUMN)
        .parquet(path)
    )


def in_fresh_process(*args: str) -> None:
    """Runs `python args...` from the project root: what a scheduled job pays, start-up included."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, *args], cwd=root, check=True, capture_output=True)


def timed(fn, *args, **kwargs) -> float:
    began = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp folder)")
    args = parser.parse_args(argv)

    conf = load_config("local")
    no_duplicate_rules = load_config(
        "local", ["quality.rules.duplicate_row=keep", "quality.rules.duplicate_trip_id=keep"]
    )
    spark = get_spark(conf)
    spark.sparkContext.setLogLevel("ERROR")
    work = args.workdir or tempfile.mkdtemp(prefix="feature-bench-")
    rows_out = []
    for size in args.sizes:
        trips = os.path.join(work, f"trips-{size}")
        write_trips(generate_trips(rows=size, days=args.days, seed=42), trips, overwrite=True)
        out = os.path.join(work, f"out-{size}")

        def fresh(name: str, out: str = out) -> str:
            path = os.path.join(out, name)
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
            return path

        # Warm up the Python workers and the compiled kernels once per size, untimed.
        compute_features.run(spark, conf, trips=trips, out=fresh("warmup"))
        results = {
            "pandas: seed code (sort by time)": timed(seed_pandas, trips, fresh("seed"), False),
            "pandas: seed code, (time, trip_id) sort": timed(
                seed_pandas, trips, fresh("seed-sorted"), True
            ),
            "spark: read + write floor": timed(
                lambda trips=trips: plain_write(
                    spark.read.parquet(trips).drop("date"), fresh("floor")
                )
            ),
            "spark: trips_stats_3h": timed(
                compute_features.run,
                spark,
                conf,
                trips=trips,
                out=fresh("stats"),
                tables=["trips_stats_3h"],
            ),
            "spark: trips_stats_3h, duplicate rules off": timed(
                compute_features.run,
                spark,
                no_duplicate_rules,
                trips=trips,
                out=fresh("stats-nodup"),
                tables=["trips_stats_3h"],
            ),
            "spark: both tables": timed(
                compute_features.run, spark, conf, trips=trips, out=fresh("both")
            ),
            "fresh process: pandas seed code": timed(
                in_fresh_process,
                "-c",
                "import sys; from benchmarks.feature_job import seed_pandas; "
                "seed_pandas(sys.argv[1], sys.argv[2], False)",
                trips,
                fresh("seed-cold"),
            ),
            "fresh process: spark trips_stats_3h": timed(
                in_fresh_process,
                "-m",
                "jobs.compute_features",
                "--trips",
                trips,
                "--out",
                fresh("stats-cold"),
                "--tables",
                "trips_stats_3h",
            ),
        }
        for variant, seconds in results.items():
            # Fresh-process variants compare with the seed code in a fresh process too.
            fresh_start = variant.startswith("fresh process")
            base = results[
                "fresh process: pandas seed code"
                if fresh_start
                else "pandas: seed code (sort by time)"
            ]
            rows_out.append((size, variant, seconds, size / seconds, base / seconds))
        shutil.rmtree(out, ignore_errors=True)

    print(f"\nfeature job benchmark, local[2], {os.cpu_count()} cores, {args.days} days of trips")
    print(f"{'trips':>10}  {'variant':<44} {'seconds':>8} {'rows/s':>11} {'speed vs seed':>13}")
    for size, variant, seconds, rate, ratio in rows_out:
        print(f"{size:>10,}  {variant:<44} {seconds:>8.2f} {rate:>11,.0f} {ratio:>12.2f}x")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
