"""A Hamilton adapter for the feature job: the trips read and checked once per run (their files
listed once, shared trip ids computed once), and the input counts of each table observed while
that table is written (no extra pass over the trips).

The job asks the Hamilton driver for one table family at a time; the graph stays the real flow
(trips_raw -> trips_typed -> shared_trip_ids -> trips_checked -> ... -> table), and this adapter
adds what a run needs around the nodes up to trips_checked.
"""

from __future__ import annotations

import logging
from typing import Any

from hamilton.lifecycle import NodeExecutionMethod
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation

log = logging.getLogger("trip_features.quality.observed_inputs")
OBSERVED = "trips_checked"  # the node whose rows each family's input counts are taken from


class ObservedInputs(NodeExecutionMethod):
    """Runs nodes as usual, except: the nodes up to `trips_checked`, which every family reads
    alike, are computed once per run (the trips listed and read once, `shared_trip_ids` kept while
    the run lasts), and `trips_checked` is observed with the observation of the family being
    computed."""

    def __init__(self, metrics: list[Column], duplicates_checked: bool):
        self.metrics = metrics
        self.duplicates_checked = duplicates_checked
        self.observation: Observation | None = None
        self.once: frozenset[str] = frozenset({"shared_trip_ids", OBSERVED})
        self._computed: dict[str, Any] = {}

    def compute_once(self, nodes: set[str]) -> None:
        """Names the nodes whose results every family shares: those `trips_checked` reads."""
        self.once = frozenset(nodes) | {"shared_trip_ids", OBSERVED}

    def run_to_execute_node(
        self, *, node_name: str, node_callable: Any, node_kwargs: dict[str, Any], **future_kwargs
    ) -> Any:
        result = self._computed.get(node_name)
        if result is None:
            result = node_callable(**node_kwargs)
            if node_name == "shared_trip_ids" and self.duplicates_checked:
                result = _materialized(result)
            if node_name in self.once:
                self._computed[node_name] = result
        if node_name == OBSERVED and self.observation is not None:
            return result.observe(self.observation, *self.metrics)
        return result

    def observe(self, family: str) -> Observation:
        """A fresh observation for the next family's `trips_checked`."""
        self.observation = Observation(f"input_{family}")
        return self.observation

    def release(self) -> None:
        shared = self._computed.get("shared_trip_ids")
        if shared is not None:
            shared.unpersist()


def _materialized(shared: DataFrame) -> DataFrame:
    """The shared trip ids, computed once. None shared (the usual case, one pass) becomes an
    empty local table that Spark's optimizer removes, join and all, from every plan; otherwise
    they are cached (caching costs more than the pass, so only then)."""
    if shared.isEmpty():
        return shared.limit(0)
    shared = shared.persist(StorageLevel.MEMORY_AND_DISK)
    log.warning("%d trip ids are held by more than one row", shared.count())
    return shared
