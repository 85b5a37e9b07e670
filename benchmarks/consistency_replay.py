"""The consistency replay of logged answers against a training set of as many rows, in one run:

    .venv/bin/python -m benchmarks.consistency_replay [--answers 100000] [--repeats 2]

The features of 200,000 sample trips, registered and materialized up to the last trip; --answers
entity rows (random drivers, moments in the last day) answered by the SDK path in requests of 100
rows and logged (the serving log as shipped). Then, in one warm session, best of --repeats after
a warm-up: a training set of the same rows at the same moments (`jobs.training_set`, written as
parquet) and the replay of the logged answers (`jobs.consistency`: read, rebuild, compare,
explain, report). Prints both times, their ratio, and the replay's match rate.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.windows_vs_asof_join import _best
from trip_features.runtime.config import load_config
from trip_features.storage.sample_trips import generate_trips, write_trips

SERVICE = "driver_trips_v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        from definitions.feature_store import feature_store
        from jobs import compute_features, consistency, materialize, register, training_set
        from trip_features.runtime.session import get_spark

        write_trips(generate_trips(rows=200_000, days=14, seed=42), root / "trips")
        conf = load_config(
            "local",
            [
                f"paths.trips={root / 'trips'}",
                f"paths.features={root / 'features'}",
                f"paths.registry={root / 'feast' / 'registry.db'}",
                f"paths.online_store={root / 'feast' / 'online.db'}",
                f"paths.lineage_events={root / 'lineage.jsonl'}",
            ],
        )
        spark = get_spark(conf)
        spark.sparkContext.setLogLevel("ERROR")
        compute_features.run(spark, conf)
        register.run(conf)
        trips = pd.read_parquet(root / "trips", columns=["driver_id", "event_timestamp"])
        end = pd.Timestamp(trips["event_timestamp"].max()).tz_convert("UTC").ceil("s")
        materialize.run(conf, start="2020-01-01", end=str(end))
        rng = np.random.default_rng(5)
        drivers = rng.choice(trips["driver_id"].unique(), args.answers)
        moments = end + pd.to_timedelta(rng.integers(0, 86_400, args.answers), unit="s")
        store = feature_store(conf)
        service = store.get_feature_service(SERVICE)
        for lo in range(0, args.answers, 100):
            rows = [
                {"driver_id": int(d), "request_timestamp": t}
                for d, t in zip(drivers[lo : lo + 100], moments[lo : lo + 100], strict=True)
            ]
            store.get_online_features(service, rows)
        store.serving_log.close()
        entities = pd.DataFrame({"driver_id": drivers, "event_timestamp": moments})
        entities["event_timestamp"] = entities["event_timestamp"].astype("datetime64[us, UTC]")
        entities.to_parquet(root / "entities.parquet", coerce_timestamps="us")
        out = str(root / "training_set")

        def train() -> None:
            training_set.run(spark, conf, str(root / "entities.parquet"), SERVICE, out)

        report = {}

        def replay() -> None:
            report.update(consistency.run(spark, conf, [SERVICE]))

        seconds_train = _best(train, args.repeats)
        seconds_replay = _best(replay, args.repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.answers:,} logged answers of {SERVICE}, best of {args.repeats}")
    print(f"  training set of the same rows   {seconds_train:7.1f} s   1.00x")
    print(
        f"  replay of the logged answers    {seconds_replay:7.1f} s   "
        f"{seconds_replay / seconds_train:.2f}x"
    )
    print(f"  match rate {report['match_rate']:.4%} of {report['compared']:,} values")


if __name__ == "__main__":
    main()
