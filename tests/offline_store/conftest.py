"""Data built to break point-in-time joins, shared by the as-of join and Feast retrieval tests."""

import numpy as np
import pandas as pd
import pytest

from tests.oracles import minutes_after as _ts


@pytest.fixture(scope="session")
def adversarial():
    """Two-key features where (1, 23) and (12, 3) must not meet, exact time ties told apart by
    created time, rows exactly at the ttl edge, entity rows before any data, unknown keys."""
    rng = np.random.default_rng(5)
    keys = [(1, 23), (12, 3), (1, 2), (11, 23), (0, 0)]
    rows = []
    for a, b in keys:
        for _ in range(40):
            minute = int(rng.integers(0, 600)) // 5 * 5  # 5-minute grid: many exact ties
            rows.append(
                (
                    a,
                    b,
                    _ts(minute),
                    _ts(minute) + pd.Timedelta(seconds=int(rng.integers(0, 50))),
                    rng.normal(),
                )
            )
    features = pd.DataFrame(
        rows, columns=["driver_id", "rider_id", "event_timestamp", "created", "value"]
    )
    features = features.drop_duplicates(["driver_id", "rider_id", "event_timestamp", "created"])
    features["count"] = np.arange(len(features), dtype=np.int64)

    entity_rows = []
    for a, b in keys + [(99, 99), (2, 3)]:  # unknown keys
        for minute in list(rng.integers(-60, 700, size=25)) + [0, 300, 600]:
            # on the 5-minute grid, or a minute past it
            entity_rows.append((a, b, _ts(int(minute) // 5 * 5 + int(rng.integers(0, 2)))))
    # rows exactly one ttl (60 min) after a feature row, and one microsecond more
    first = features.iloc[0]
    ttl_edge = first["event_timestamp"] + pd.Timedelta(minutes=60)
    entity_rows += [
        (first["driver_id"], first["rider_id"], ttl_edge),
        (first["driver_id"], first["rider_id"], ttl_edge + pd.Timedelta(microseconds=1)),
    ]
    entities = pd.DataFrame(entity_rows, columns=["driver_id", "rider_id", "event_timestamp"])
    entities["label"] = np.arange(len(entities))
    return features, entities
